package dev.smoldpo.runtime;

import ai.onnxruntime.OrtSession;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.nio.file.Path;
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
 * Its OrtStatus, when not null, is read with the C API's {@code GetErrorMessage} and released
 * with {@code ReleaseStatus} (their positions in the OrtApi table of include/onnxruntime/core/
 * session/onnxruntime_c_api.h: 2 and 93).
 */
final class CudaProviderCall {
    static final String SYMBOL = "OrtSessionOptionsAppendExecutionProvider_CUDA";
    private static final int ORT_API_VERSION = 28;
    private static final int GET_ERROR_MESSAGE = 2;
    private static final int RELEASE_STATUS = 93;

    private CudaProviderCall() {}

    /**
     * Appends the CUDA provider for {@code device}; {@code library} is the libonnxruntime.so this
     * process loaded.
     *
     * @throws IllegalStateException with ORT's message when the provider cannot be added
     */
    static void append(OrtSession.SessionOptions options, int device, Path library) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = SymbolLookup.loaderLookup().or(SymbolLookup.libraryLookup(library, Arena.global()));
        Optional<MemorySegment> append = lookup.find(SYMBOL);
        if (append.isEmpty()) {
            throw new IllegalStateException("the ONNX Runtime library " + library + " has no CUDA provider (no " + SYMBOL
                    + "): build trainer.jar with -Port-gpu");
        }
        try {
            MethodHandle call = linker.downcallHandle(append.get(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            MemorySegment status = (MemorySegment) call.invokeExact(MemorySegment.ofAddress(nativeHandle(options)), device);
            if (status.address() != 0) {
                throw new IllegalStateException(statusMessage(linker, lookup, status));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("calling " + SYMBOL + " failed: " + t, t);
        }
    }

    /** The OrtSessionOptions* behind the Java object (a private field of ORT's Java API). */
    private static long nativeHandle(OrtSession.SessionOptions options) {
        try {
            Field f = OrtSession.SessionOptions.class.getDeclaredField("nativeHandle");
            f.setAccessible(true);
            return f.getLong(options);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot reach the native handle of ORT's SessionOptions: " + e, e);
        }
    }

    /** The message of a non-null OrtStatus*, which is then released. */
    private static String statusMessage(Linker linker, SymbolLookup lookup, MemorySegment status) throws Throwable {
        MemorySegment getApiBase = lookup.find("OrtGetApiBase").orElseThrow();
        MemorySegment base = ((MemorySegment) linker.downcallHandle(getApiBase, FunctionDescriptor.of(ValueLayout.ADDRESS))
                .invokeExact()).reinterpret(16);
        MemorySegment api = ((MemorySegment) linker.downcallHandle(base.get(ValueLayout.ADDRESS, 0),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT)).invokeExact(ORT_API_VERSION))
                .reinterpret(8L * (RELEASE_STATUS + 1));
        MemorySegment text = (MemorySegment) linker.downcallHandle(api.get(ValueLayout.ADDRESS, 8L * GET_ERROR_MESSAGE),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS)).invokeExact(status);
        String message = text.reinterpret(Integer.MAX_VALUE).getString(0);
        linker.downcallHandle(api.get(ValueLayout.ADDRESS, 8L * RELEASE_STATUS), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS))
                .invokeExact(status);
        return message;
    }
}
