package dev.smoldpo.autodiff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.hf.Bf16;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Gradients through half-precision parts of a graph, run on ONNX Runtime's CPU provider where its
 * kernels allow (Cast and Gather take bfloat16 and float16 there, MatMul does not take bfloat16).
 */
class HalfPrecisionVjpTest {
    /** Runs {@code g} on the CPU provider with FLOAT input x and returns output {@code name}. */
    private static float[] run(Graph g, float[] x, long[] dims, String name) throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession s = env.createSession(ModelWriter.toProto(g, null).toByteArray());
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), dims);
             OrtSession.Result r = s.run(Map.of("x", in))) {
            FloatBuffer b = ((OnnxTensor) r.get(name).orElseThrow()).getFloatBuffer();
            float[] out = new float[b.remaining()];
            b.get(out);
            return out;
        }
    }

    @Test
    void theGradientOfAFloatMasterCastToBfloat16IsFloatAgain() throws Exception {
        // loss = Σ w · float(bf16(x)): the bf16 copy's gradient w arrives rounded to bfloat16 (the type of
        // the value it flows into) and is widened exactly, so dloss/dx = float(bf16(w)), a FLOAT tensor
        float[] w = {0.1f, -1.2345678f, 3.3333333f, 1e-3f, -7.77f, 0.5f};
        Graph g = new Graph("master");
        Value x = g.input("x", DType.FLOAT, Shape.of(2, 3));
        Value used = g.cast(g.cast(x, DType.BFLOAT16), DType.FLOAT);
        Value loss = g.reduceSum(g.mul(used, g.constant(TensorData.floats(new long[] {2, 3}, w))), false);
        Value dx = Autodiff.gradients(g, loss, List.of(x)).get("x");
        assertEquals(DType.FLOAT, dx.dtype());
        Node last = dx.producer();
        assertEquals("Cast", last.opType(), "the rule for Cast casts the gradient back to the master's type");
        assertEquals(DType.BFLOAT16, last.input(0).dtype());
        g.output(g.node("Identity").in(dx).outputNames("dx").out());
        float[] expected = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            expected[i] = Bf16.toFloat(Bf16.fromFloat(w[i]));
        }
        assertArrayEquals(expected, run(g, new float[] {1, 2, 3, 4, 5, 6}, new long[] {2, 3}, "dx"));
    }

    @Test
    void aHalfPrecisionGatherScatterAddsItsGradientInFloat() throws Exception {
        // Rows gathered several times receive the sum of their rows' gradients. The scatter-add runs in
        // FLOAT between Casts: ORT's CPU provider has no float16 ScatterND add, and bfloat16 adds would round.
        for (DType half : List.of(DType.FLOAT16, DType.BFLOAT16)) {
            Graph g = new Graph("gather");
            Value x = g.input("x", DType.FLOAT, Shape.of(4, 2));
            Value table = g.cast(x, half);
            Value picked = g.gather(table, g.constant(TensorData.longs(new long[] {5}, 0, 2, 0, 3, 0)), 0);
            float[] w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
            Value loss = g.reduceSum(g.mul(g.cast(picked, DType.FLOAT), g.constant(TensorData.floats(new long[] {5, 2}, w))), false);
            Value dx = Autodiff.gradients(g, loss, List.of(x)).get("x");
            long floatScatters = g.nodes().stream().filter(n -> n.opType().equals("ScatterND"))
                    .filter(n -> n.input(2).dtype() == DType.FLOAT).count();
            assertEquals(1, floatScatters, half + ": one ScatterND, in FLOAT");
            g.output(g.node("Identity").in(dx).outputNames("dx").out());
            // row 0 is read at positions 0, 2 and 4; row 2 at 1; row 3 at 3; row 1 never
            assertArrayEquals(new float[] {1 + 5 + 9, 2 + 6 + 10, 0, 0, 3, 4, 7, 8},
                    run(g, new float[8], new long[] {4, 2}, "dx"), half.name());
        }
    }
}
