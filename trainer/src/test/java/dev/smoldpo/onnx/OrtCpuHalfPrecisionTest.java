package dev.smoldpo.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.runtime.OrtRuntime;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * What the ONNX Runtime this project ships can do in half precision on its CPU provider, which
 * decides what the tests can run here: bfloat16 MatMul is missing, so bf16 graphs cannot even get a
 * session (and fit refuses bf16 artifacts on the CPU); float16 MatMul exists, so the fp16 graphs run
 * here, which the mixed-precision tests use. If a later ONNX Runtime changes either, this test says so.
 */
class OrtCpuHalfPrecisionTest {
    private static byte[] matMul(DType type) {
        Graph g = new Graph("matmul");
        Value a = g.input("a", type, Shape.of(2, 3));
        Value b = g.input("b", type, Shape.of(3, 4));
        g.output(g.matMul(a, b));
        return ModelWriter.toProto(g, null).toByteArray();
    }

    @Test
    void theCpuProviderHasNoBfloat16MatMul() {
        OrtEnvironment env = OrtRuntime.environment();
        OrtException e = assertThrows(OrtException.class, () -> env.createSession(matMul(DType.BFLOAT16)).close());
        assertTrue(e.getMessage().contains("Could not find an implementation for MatMul(13)"), e.getMessage());
    }

    @Test
    void theCpuProviderHasFloat16MatMul() throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession s = env.createSession(matMul(DType.FLOAT16))) {
            assertEquals(Set.of("a", "b"), s.getInputNames());
        }
    }
}
