package dev.smoldpo.runtime;

import ai.onnxruntime.OrtSession;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Adds ORT's CUDA execution provider to a Java {@code SessionOptions} through ORT's C API, called
 * with the FFM API.
 *
 * <p>Why not {@code SessionOptions.addCUDA}: the ORT Java jar's JNI library is the CPU build, and
 * both of its CUDA entry points ({@code addCUDA(int)} and {@code addCUDA(OrtCUDAProviderOptions)})
 * are compiled out of it: on a GPU host they fail with "This binary was not compiled with CUDA
 * support" although the libonnxruntime.so we load is the CUDA build (seen on an H200 with
 * {@code tools/gpu-check.sh}). The CUDA build exports the C function
 * {@code OrtSessionOptionsAppendExecutionProvider_CUDA(OrtSessionOptions*, int device_id)}
 * (onnxruntime/core/session/provider_bridge_ort.cc); we call it on the options' native handle.
 * A non-null OrtStatus is read and released through {@link OrtCApi}.
 */
final class CudaProviderCall {
    static final String SYMBOL = "OrtSessionOptionsAppendExecutionProvider_CUDA";
    /** Extra CUDA provider options, "key=value,key=value". */
    static final String OPTIONS_ENV = "SMOLDPO_CUDA_PROVIDER_OPTIONS";
    // The C API's provider-options V2 functions, by their exported C++ names (OrtApis:: in
    // onnxruntime/core/session/ort_apis.h): reachable without the OrtApi table's positions.
    private static final String CREATE_V2 = "_ZN7OrtApis25CreateCUDAProviderOptionsEPP24OrtCUDAProviderOptionsV2";
    private static final String UPDATE_V2 = "_ZN7OrtApis25UpdateCUDAProviderOptionsEP24OrtCUDAProviderOptionsV2PKPKcS5_m";
    private static final String APPEND_V2 =
            "_ZN7OrtApis45SessionOptionsAppendExecutionProvider_CUDA_V2EP17OrtSessionOptionsPK24OrtCUDAProviderOptionsV2";
    private static final String RELEASE_V2 = "_ZN7OrtApis26ReleaseCUDAProviderOptionsEP24OrtCUDAProviderOptionsV2";

    private CudaProviderCall() {}

    /**
     * Appends the CUDA provider for {@code device} to the options, for the libonnxruntime.so this
     * process loaded.
     *
     * @throws IllegalStateException with ORT's message when the provider cannot be added
     */
    static void append(OrtSession.SessionOptions options, int device) {
        append(options, device, providerOptions(device, System.getenv(OPTIONS_ENV)));
    }

    /**
     * The CUDA provider options smoldpo sets: the device, and an arena that grows by what is
     * requested rather than to the next power of two (ORT's default, kNextPowerOfTwo, can hold
     * nearly twice a training step's peak); {@value #OPTIONS_ENV} ("key=value,key=value", ORT's
     * names from onnxruntime/core/providers/cuda/cuda_execution_provider_info.cc) adds or overrides.
     */
    static Map<String, String> providerOptions(int device, String extra) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("device_id", Integer.toString(device));
        options.put("arena_extend_strategy", "kSameAsRequested");
        if (extra != null && !extra.isBlank()) {
            for (String pair : extra.split(",")) {
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException(OPTIONS_ENV + ": '" + pair + "' is not key=value");
                }
                options.put(pair.substring(0, eq).strip(), pair.substring(eq + 1).strip());
            }
        }
        return options;
    }

    static void append(OrtSession.SessionOptions options, int device, Map<String, String> providerOptions) {
        OrtCApi c = OrtCApi.get();
        Optional<MemorySegment> legacy = c.symbol(SYMBOL);
        if (legacy.isEmpty()) {
            throw new IllegalStateException("the ONNX Runtime library " + OrtRuntime.nativeLibrary() + " has no CUDA provider (no " + SYMBOL
                    + "): build trainer.jar with -Port-gpu");
        }
        MemorySegment sessionOptions = MemorySegment.ofAddress(nativeHandle(options));
        try {
            Optional<MemorySegment> create = c.symbol(CREATE_V2);
            Optional<MemorySegment> update = c.symbol(UPDATE_V2);
            Optional<MemorySegment> appendV2 = c.symbol(APPEND_V2);
            Optional<MemorySegment> release = c.symbol(RELEASE_V2);
            if (create.isEmpty() || update.isEmpty() || appendV2.isEmpty() || release.isEmpty()) {
                // a build without the V2 entry points: the device alone, ORT's defaults otherwise
                c.check((MemorySegment) c.downcall(legacy.get(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT))
                        .invokeExact(sessionOptions, device), SYMBOL);
                return;
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                c.check((MemorySegment) c.downcall(create.get(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS)).invokeExact(out), "CreateCUDAProviderOptions");
                MemorySegment cuda = out.get(ValueLayout.ADDRESS, 0);
                try {
                    MemorySegment keys = arena.allocate(ValueLayout.ADDRESS, providerOptions.size());
                    MemorySegment values = arena.allocate(ValueLayout.ADDRESS, providerOptions.size());
                    int i = 0;
                    for (Map.Entry<String, String> e : providerOptions.entrySet()) {
                        keys.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(e.getKey()));
                        values.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(e.getValue()));
                        i++;
                    }
                    c.check((MemorySegment) c.downcall(update.get(), FunctionDescriptor.of(
                            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG)).invokeExact(cuda, keys, values, (long) providerOptions.size()),
                            "UpdateCUDAProviderOptions");
                    c.check((MemorySegment) c.downcall(appendV2.get(), FunctionDescriptor.of(
                            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS)).invokeExact(sessionOptions, cuda),
                            "SessionOptionsAppendExecutionProvider_CUDA_V2");
                } finally {
                    c.downcall(release.get(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS)).invokeExact(cuda);
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("adding ORT's CUDA provider failed: " + t, t);
        }
    }

    /** The OrtSessionOptions* behind the Java object (a private field of ORT's Java API). */
    static long nativeHandle(OrtSession.SessionOptions options) {
        try {
            Field f = OrtSession.SessionOptions.class.getDeclaredField("nativeHandle");
            f.setAccessible(true);
            return f.getLong(options);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot reach the native handle of ORT's SessionOptions: " + e, e);
        }
    }

}
