package dev.smoldpo.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One copy of an external-data file in the memory ONNX Runtime computes in: host memory, or CUDA device
 * memory (cudaMalloc and one cudaMemcpy through the CUDA runtime that {@link OrtRuntime#enableCuda()}
 * loaded). Tensors are addressed by their offsets in the file.
 */
abstract sealed class WeightMemory implements AutoCloseable {
    final long size;

    WeightMemory(long size) {
        this.size = size;
    }

    /** ORT's name for the memory (OrtApi::CreateMemoryInfo: "Cpu" or "Cuda"). */
    abstract String ortName();

    /** The address of the byte at {@code offset} of the file. */
    abstract long address(long offset);

    @Override
    public abstract void close();

    static WeightMemory load(Path dataFile, boolean cuda) {
        try (FileChannel channel = FileChannel.open(dataFile, StandardOpenOption.READ); Arena mapping = Arena.ofConfined()) {
            MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), mapping);
            return cuda ? Cuda.copyOf(file) : new Host(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the weights file " + dataFile, e);
        }
    }

    /** A copy in native host memory (the CPU provider's). */
    static final class Host extends WeightMemory {
        private final Arena arena = Arena.ofShared();
        /** The bytes: tests may change them to see which memory a session reads. */
        final MemorySegment bytes;

        Host(MemorySegment file) {
            super(file.byteSize());
            bytes = arena.allocate(Math.max(1, file.byteSize()), 64);
            bytes.copyFrom(file);
        }

        @Override
        String ortName() {
            return "Cpu";
        }

        @Override
        long address(long offset) {
            return bytes.address() + offset;
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /** A copy in CUDA device memory on the current device (device 0, the one smoldpo's sessions use). */
    static final class Cuda extends WeightMemory {
        private static final int HOST_TO_DEVICE = 1; // cudaMemcpyHostToDevice
        private final long device;

        private Cuda(long size, long device) {
            super(size);
            this.device = device;
        }

        static Cuda copyOf(MemorySegment file) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                check((int) function("cudaMalloc", ValueLayout.ADDRESS, ValueLayout.JAVA_LONG)
                        .invokeExact(out, file.byteSize()), "cudaMalloc of " + file.byteSize() + " bytes");
                long device = out.get(ValueLayout.ADDRESS, 0).address();
                Cuda memory = new Cuda(file.byteSize(), device);
                try {
                    check((int) function("cudaMemcpy", ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT).invokeExact(MemorySegment.ofAddress(device), file, file.byteSize(),
                            HOST_TO_DEVICE), "cudaMemcpy of the weights");
                } catch (RuntimeException | Error e) {
                    memory.close();
                    throw e;
                }
                return memory;
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("cannot copy the weights to the GPU: " + t, t);
            }
        }

        @Override
        String ortName() {
            return "Cuda";
        }

        @Override
        long address(long offset) {
            return device + offset;
        }

        @Override
        public void close() {
            try {
                check((int) function("cudaFree", ValueLayout.ADDRESS).invokeExact(MemorySegment.ofAddress(device)), "cudaFree");
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("cudaFree: " + t, t);
            }
        }

        private static MethodHandle function(String name, ValueLayout... arguments) {
            MemorySegment symbol = SymbolLookup.loaderLookup().find(name).orElseThrow(() -> new IllegalStateException(
                    "the CUDA runtime is not loaded (no " + name + "): open a --device cuda session first"));
            return Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(ValueLayout.JAVA_INT, arguments));
        }

        private static void check(int error, String call) throws Throwable {
            if (error != 0) {
                MemorySegment text = (MemorySegment) Linker.nativeLinker().downcallHandle(
                        SymbolLookup.loaderLookup().find("cudaGetErrorString").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT)).invokeExact(error);
                throw new IllegalStateException(call + " failed: CUDA error " + error + " ("
                        + text.reinterpret(Integer.MAX_VALUE).getString(0) + ")");
            }
        }
    }
}
