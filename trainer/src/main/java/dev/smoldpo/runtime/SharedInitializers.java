package dev.smoldpo.runtime;

import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One copy of the frozen weights for every session of a process. ONNX Runtime copies each session's
 * initializers into its provider's memory, so the training and eval sessions of one training session
 * (and a reference session beside them) each held the whole model on the GPU. Initializers handed to
 * the session options with OrtApi::AddInitializer are used in place when they sit on the device the
 * session planned for them (onnxruntime/core/framework/session_state_utils.cc, SaveInitializedTensors);
 * so each external-data file is loaded once ({@link WeightMemory}), and every session opened on it
 * while it is loaded gets the same OrtValues. Closing the last {@link Lease} frees it.
 */
public final class SharedInitializers {
    /** "0" turns sharing off; "1" turns it on for CPU sessions too (on the CPU, ORT maps external data already). */
    public static final String ENV = "SMOLDPO_SHARE_WEIGHTS";
    /** How every failure to share starts (tools/gpu-check.sh looks for it). */
    public static final String FAILED = "sharing the weights between sessions failed (" + ENV + "=0 turns sharing off): ";
    // OrtApi table positions (ORT 1.28's onnxruntime_c_api.h)
    private static final int CREATE_TENSOR_WITH_DATA = 49;
    private static final int CREATE_MEMORY_INFO = 68;
    private static final int RELEASE_MEMORY_INFO = 94;
    private static final int RELEASE_VALUE = 96;
    private static final int ADD_INITIALIZER = 150;
    private static final int DEVICE_ALLOCATOR = 0; // OrtDeviceAllocator
    private static final int DEFAULT_MEMORY = 0;   // OrtMemTypeDefault

    private static final Map<Key, Loaded> LOADED = new HashMap<>();

    private SharedInitializers() {}

    private record Key(Path dataFile, long size, long modified, boolean cuda) {}

    /** A hold on the loaded files: close it after the sessions it served are closed. */
    public static final class Lease implements AutoCloseable {
        private final List<Loaded> held;
        private boolean closed;

        private Lease(List<Loaded> held) {
            this.held = held;
        }

        @Override
        public void close() {
            synchronized (SharedInitializers.class) {
                if (!closed) {
                    closed = true;
                    held.forEach(Loaded::release);
                }
            }
        }
    }

    /** Whether sessions on this device share their weights ({@link #ENV}: on for CUDA, off for the CPU unless set to 1). */
    public static boolean enabled(boolean cuda) {
        String setting = System.getenv(ENV);
        return setting == null || setting.isBlank() ? cuda : "1".equals(setting.strip());
    }

    /** {@link #attach} when {@link #enabled}, else a lease on nothing. */
    public static Lease attachIfEnabled(OrtSession.SessionOptions options, List<Path> models, boolean cuda) {
        return attachIf(enabled(cuda), options, models, cuda);
    }

    /** {@link #attach} when {@code share}, else a lease on nothing. */
    public static Lease attachIf(boolean share, OrtSession.SessionOptions options, List<Path> models, boolean cuda) {
        return share ? attach(options, models, cuda) : new Lease(List.of());
    }

    /**
     * Hands every external-data initializer of {@code models} (graphs written over the same weights file,
     * e.g. the training and eval graphs) to {@code options}, each name once, in host or CUDA memory.
     */
    public static synchronized Lease attach(OrtSession.SessionOptions options, List<Path> models, boolean cuda) {
        Map<String, ExternalInitializers.Tensor> byName = new LinkedHashMap<>();
        for (Path model : models) {
            for (ExternalInitializers.Tensor t : ExternalInitializers.of(model).tensors()) {
                ExternalInitializers.Tensor seen = byName.putIfAbsent(t.name(), t);
                if (seen != null && !sameBytes(seen, t)) {
                    throw new IllegalArgumentException("initializer '" + t.name() + "' differs between " + models);
                }
            }
        }
        List<Loaded> held = new ArrayList<>();
        Lease lease = new Lease(held);
        try {
            MemorySegment handle = MemorySegment.ofAddress(CudaProviderCall.nativeHandle(options));
            OrtCApi c = OrtCApi.get();
            MethodHandle add = c.apiFunction(ADD_INITIALIZER,
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            try (Arena names = Arena.ofConfined()) { // ORT copies the name
                for (ExternalInitializers.Tensor t : byName.values()) {
                    Loaded file = loaded(t.dataFile(), cuda);
                    if (!held.contains(file)) {
                        file.users++;
                        held.add(file);
                    }
                    MemorySegment value = file.value(t);
                    c.check((MemorySegment) add.invokeExact(handle, names.allocateFrom(t.name()), value), "AddInitializer");
                }
            }
            return lease;
        } catch (Error e) {
            lease.close();
            throw e;
        } catch (Throwable t) {
            lease.close();
            throw new IllegalStateException(FAILED + (t instanceof RuntimeException ? t.getMessage() : t.toString()), t);
        }
    }

    /** Files loaded now. */
    public static synchronized int loadedFiles() {
        return LOADED.size();
    }

    /** The host copy of a file loaded for CPU sessions (tests change it to see which memory a session reads). */
    public static synchronized MemorySegment hostBytes(Path dataFile) {
        for (Map.Entry<Key, Loaded> e : LOADED.entrySet()) {
            if (e.getKey().dataFile().equals(dataFile.toAbsolutePath().normalize())
                    && e.getValue().memory instanceof WeightMemory.Host host) {
                return host.bytes;
            }
        }
        throw new IllegalStateException("no host copy of " + dataFile + " is loaded");
    }

    private static boolean sameBytes(ExternalInitializers.Tensor a, ExternalInitializers.Tensor b) {
        return a.dataFile().equals(b.dataFile()) && a.offset() == b.offset() && a.length() == b.length()
                && a.elementType() == b.elementType() && Arrays.equals(a.dims(), b.dims());
    }

    private static Loaded loaded(Path dataFile, boolean cuda) throws IOException {
        Path file = dataFile.toAbsolutePath().normalize();
        Key key = new Key(file, Files.size(file), Files.getLastModifiedTime(file).toMillis(), cuda);
        Loaded l = LOADED.get(key);
        if (l == null) {
            l = new Loaded(key, WeightMemory.load(file, cuda));
            LOADED.put(key, l);
        }
        return l;
    }

    private record Made(ExternalInitializers.Tensor tensor, MemorySegment value) {}

    /** One loaded file, its OrtValues by name, and how many leases hold it. */
    private static final class Loaded {
        private final Key key;
        private final WeightMemory memory;
        private final Arena arena = Arena.ofShared(); // names, shapes and the memory info's handle
        /** The OrtValue made for each name, with the tensor it describes. */
        private final Map<String, Made> values = new HashMap<>();
        private final MemorySegment memoryInfo;
        private int users;

        Loaded(Key key, WeightMemory memory) {
            this.key = key;
            this.memory = memory;
            try {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                OrtCApi c = OrtCApi.get();
                c.check((MemorySegment) c.apiFunction(CREATE_MEMORY_INFO, FunctionDescriptor.of(ValueLayout.ADDRESS,
                                ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS))
                        .invokeExact(arena.allocateFrom(memory.ortName()), DEVICE_ALLOCATOR, 0, DEFAULT_MEMORY, out), "CreateMemoryInfo");
                memoryInfo = out.get(ValueLayout.ADDRESS, 0);
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            } catch (Throwable t) {
                close();
                throw new IllegalStateException("CreateMemoryInfo: " + t, t);
            }
        }

        /** The OrtValue (not owning its data) over the tensor's bytes, made once per name. */
        MemorySegment value(ExternalInitializers.Tensor t) throws Throwable {
            Made made = values.get(t.name());
            if (made != null) {
                if (!sameBytes(made.tensor(), t)) {
                    throw new IllegalArgumentException("two graphs on " + key.dataFile() + " read initializer '" + t.name()
                            + "' at different places or shapes");
                }
                return made.value();
            }
            if (t.offset() < 0 || t.offset() + t.length() > memory.size) {
                throw new IllegalArgumentException("initializer '" + t.name() + "' lies outside " + key.dataFile());
            }
            OrtCApi c = OrtCApi.get();
            MemorySegment shape = arena.allocateFrom(ValueLayout.JAVA_LONG, t.dims());
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            c.check((MemorySegment) c.apiFunction(CREATE_TENSOR_WITH_DATA, FunctionDescriptor.of(ValueLayout.ADDRESS,
                            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT, ValueLayout.ADDRESS))
                    .invokeExact(memoryInfo, MemorySegment.ofAddress(memory.address(t.offset())), t.length(), shape,
                            (long) t.dims().length, t.elementType(), out), "CreateTensorWithDataAsOrtValue");
            MemorySegment v = out.get(ValueLayout.ADDRESS, 0);
            values.put(t.name(), new Made(t, v));
            return v;
        }

        void release() {
            if (--users == 0) {
                LOADED.remove(key);
                close();
            }
        }

        private void close() {
            try {
                OrtCApi c = OrtCApi.get();
                MethodHandle releaseValue = c.apiFunction(RELEASE_VALUE, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
                for (Made made : values.values()) {
                    releaseValue.invokeExact(made.value());
                }
                values.clear();
                if (memoryInfo != null) {
                    c.apiFunction(RELEASE_MEMORY_INFO, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS)).invokeExact(memoryInfo);
                }
            } catch (Throwable t) {
                throw new IllegalStateException("releasing the shared weights: " + t, t);
            } finally {
                memory.close();
                arena.close();
            }
        }
    }
}
