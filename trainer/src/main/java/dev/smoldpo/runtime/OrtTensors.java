package dev.smoldpo.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.smoldpo.onnx.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/** Converts between our {@link TensorData} and ORT tensors. */
public final class OrtTensors {
    private OrtTensors() {}

    public static OnnxTensor of(OrtEnvironment env, TensorData data) throws OrtException {
        ByteBuffer direct = ByteBuffer.allocateDirect(data.raw().remaining()).order(ByteOrder.nativeOrder());
        direct.put(data.raw().duplicate()).flip();
        OnnxJavaType type = switch (data.dtype()) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case INT64 -> OnnxJavaType.INT64;
            case INT32 -> OnnxJavaType.INT32;
            case BOOL -> OnnxJavaType.BOOL;
            case UINT8 -> OnnxJavaType.UINT8;
            case INT8 -> OnnxJavaType.INT8;
            default -> throw new IllegalArgumentException("no ORT tensors of " + data.dtype() + " here");
        };
        return OnnxTensor.createTensor(env, direct, data.dims(), type);
    }

    /** All of {@code inputs} as ORT tensors; the caller closes them. */
    public static Map<String, OnnxTensor> of(OrtEnvironment env, Map<String, TensorData> inputs) throws OrtException {
        Map<String, OnnxTensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, TensorData> e : inputs.entrySet()) {
                out.put(e.getKey(), of(env, e.getValue()));
            }
        } catch (OrtException | RuntimeException e) {
            out.values().forEach(OnnxTensor::close);
            throw e;
        }
        return out;
    }

    public static float[] floats(ai.onnxruntime.OnnxValue value) {
        java.nio.FloatBuffer b = ((OnnxTensor) value).getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }
}
