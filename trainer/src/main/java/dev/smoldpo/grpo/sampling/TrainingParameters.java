package dev.smoldpo.grpo.sampling;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtTrainingSession;
import dev.smoldpo.runtime.OrtCApi;
import dev.smoldpo.runtime.OrtRuntime;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a training session's live trainable parameters without touching the disk, through ORT's C
 * training API, which the Java API does not expose: {@code OrtTrainingApi::GetParametersSize} and
 * {@code CopyParametersToBuffer} (trainable only), called through FFM on the session's native handle.
 * The buffer is an {@link OnnxTensor} over a direct buffer of that many floats, so ORT copies the
 * parameters (from the device, under CUDA) straight into Java-readable memory.
 *
 * <p>ORT copies the parameters in the order of the training graph's inputs that are parameters
 * (onnxruntime/orttraining/training_api/module.cc); the caller passes those names and shapes
 * (the manifest's {@code parameters}, which export-artifacts lists in the graph's order), and the total
 * must equal what ORT reports. The function-table indices below are those of the ORT 1.28 library
 * {@link OrtRuntime} insists on (checked against its symbol table: OrtApi::GetErrorMessage 2,
 * ReleaseStatus 93, GetTrainingApi 219; OrtTrainingApi::GetParametersSize 16, CopyParametersToBuffer 17).
 *
 * <p>Cost per refresh, measured on the 2-core CPU machine (LivePolicySampler256mTest, TrainingParametersTest):
 * SmolVLM-256M shapes, r = 8, vision and text adapters (2,884,608 values, 11.5 MB): this read 96 ms,
 * {@code LivePolicySampler.updateAdapters} 19 ms, against 139 ms for saveCheckpoint + {@code CheckpointReader};
 * the demo (5,632 values): 13 ms for a first read (binding the C API included), 2.4 ms for saveCheckpoint + read.
 */
public final class TrainingParameters {
    private static final int GET_TRAINING_API = 219;
    private static final int GET_PARAMETERS_SIZE = 16;
    private static final int COPY_PARAMETERS_TO_BUFFER = 17;

    /** A parameter's name and element count, in ORT's order. */
    public record Spec(String name, long[] shape) {
        long size() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private static Api api;

    /** The trainable parameters an export's manifest lists, in its (the training graph's) order. */
    public static List<Spec> specs(dev.smoldpo.artifacts.Manifest manifest) {
        return manifest.parameters().stream().map(p -> new Spec(p.name(), p.shape().stream().mapToLong(d -> {
            try {
                return Long.parseLong(d);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("manifest parameter " + p.name() + " has a symbolic dimension '" + d + "'", e);
            }
        }).toArray())).toList();
    }

    private TrainingParameters() {}

    /**
     * The trainable parameters of {@code session} now, by name.
     *
     * @param order the trainable parameters in the training graph's input order
     */
    public static Map<String, float[]> read(OrtTrainingSession session, List<Spec> order) throws OrtException {
        Api a = api();
        long handle = handle(session);
        long total = a.parametersSize(handle);
        long expected = order.stream().mapToLong(Spec::size).sum();
        if (total != expected) {
            throw new IllegalStateException("the training session holds " + total + " trainable values but the "
                    + order.size() + " parameters named for it hold " + expected);
        }
        FloatBuffer buffer = ByteBuffer.allocateDirect(Math.toIntExact(total) * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        float[] all = new float[Math.toIntExact(total)];
        try (OnnxTensor tensor = OnnxTensor.createTensor(OrtRuntime.environment(), buffer, new long[] {total})) {
            a.copyParameters(handle, tensorHandle(tensor));
            tensor.getFloatBuffer().get(all);
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        int at = 0;
        for (Spec s : order) {
            float[] v = new float[Math.toIntExact(s.size())];
            System.arraycopy(all, at, v, 0, v.length);
            at += v.length;
            out.put(s.name(), v);
        }
        return out;
    }

    private static synchronized Api api() {
        if (api == null) {
            OrtRuntime.environment(); // loads the library this looks the entry point up in
            api = new Api();
        }
        return api;
    }

    /** The OrtTrainingSession* behind the Java object (the Java API keeps it in a private field). */
    private static long handle(OrtTrainingSession session) {
        try {
            Field f = OrtTrainingSession.class.getDeclaredField("nativeHandle");
            f.setAccessible(true);
            return f.getLong(session);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot reach the native handle of ORT's OrtTrainingSession: " + e, e);
        }
    }

    /** The OrtValue* of a tensor. */
    private static long tensorHandle(OnnxTensor tensor) {
        try {
            Method m = Class.forName("ai.onnxruntime.OnnxTensorLike").getDeclaredMethod("getNativeHandle");
            m.setAccessible(true);
            return (long) m.invoke(tensor);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot reach the native handle of an OnnxTensor: " + e, e);
        }
    }

    /** The two training-API functions, bound once. */
    private static final class Api {
        private final OrtCApi c = OrtCApi.get();
        private final MethodHandle getParametersSize;
        private final MethodHandle copyParametersToBuffer;

        Api() {
            try {
                MemorySegment trainingApi = (MemorySegment) c.apiFunction(GET_TRAINING_API,
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT)).invokeExact(OrtCApi.ORT_API_VERSION);
                if (trainingApi.address() == 0) {
                    throw new IllegalStateException("this ONNX Runtime library has no training API");
                }
                trainingApi = trainingApi.reinterpret(8L * (COPY_PARAMETERS_TO_BUFFER + 1));
                getParametersSize = c.function(trainingApi, GET_PARAMETERS_SIZE, FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_BOOLEAN));
                copyParametersToBuffer = c.function(trainingApi, COPY_PARAMETERS_TO_BUFFER, FunctionDescriptor.of(
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_BOOLEAN));
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("cannot bind ONNX Runtime's training C API: " + t, t);
            }
        }

        long parametersSize(long session) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
                check((MemorySegment) getParametersSize.invokeExact(session, out, true), "GetParametersSize");
                return out.get(ValueLayout.JAVA_LONG, 0);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        void copyParameters(long session, long buffer) {
            try {
                check((MemorySegment) copyParametersToBuffer.invokeExact(session, buffer, true), "CopyParametersToBuffer");
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        private void check(MemorySegment status, String call) throws Throwable {
            c.check(status, call);
        }
    }
}
