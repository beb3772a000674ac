package dev.smoldpo.autodiff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Cheap forward values a gradient rule reads are made again in the backward pass ({@link Recomputation}):
 * the backward pass keeps a widening cast's narrower input, a softmax's output rather than its narrowed
 * copy, and a division's operands rather than its quotient, with gradients unchanged.
 */
class CheapRecomputationTest {
    private record Built(Graph graph, Value loss, Value cast, Value source, Value gradient) {}

    /** loss = sum((double) (w ⊙ x))²: the square's gradient reads the widened product twice. */
    private static Built widening() {
        Graph g = new Graph("widening");
        Value x = g.input("x", DType.FLOAT, Shape.of("n"));
        Value w = g.input("w", DType.FLOAT, Shape.of("n"));
        Value product = g.mul(w, x);
        Value wide = g.cast(product, DType.DOUBLE);
        Value loss = g.cast(g.reduceSum(g.mul(wide, wide), false), DType.FLOAT);
        Value grad = Autodiff.gradients(g, loss, List.of(w)).get("w");
        g.output(loss);
        g.output(g.node("Identity").in(grad).outputNames("grad_w").out());
        return new Built(g, loss, wide, product, grad);
    }

    @Test
    void theBackwardPassKeepsTheNarrowInputOfAWideningCast() {
        Built b = widening();
        List<Value> kept = BackwardStash.of(b.graph(), b.loss()).values();
        assertFalse(kept.contains(b.cast()), "the double copy is not kept: " + kept);
        assertTrue(kept.contains(b.source()), "its float input is: " + kept);
    }

    @Test
    void theGradientThroughTheCopyIsExact() throws Exception {
        Built b = widening();
        float[] x = {0.5f, -1.25f, 3f};
        float[] w = {2f, 0.75f, -0.1f};
        OrtEnvironment env = OrtRuntime.environment();
        try (OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {3});
             OnnxTensor wt = OnnxTensor.createTensor(env, FloatBuffer.wrap(w), new long[] {3});
             OrtSession s = env.createSession(ModelWriter.toProto(b.graph(), null).toByteArray(), new OrtSession.SessionOptions());
             OrtSession.Result r = s.run(Map.of("x", xt, "w", wt))) {
            float[] grad = new float[3];
            ((OnnxTensor) r.get("grad_w").orElseThrow()).getFloatBuffer().get(grad);
            float[] expected = new float[3];
            for (int i = 0; i < 3; i++) {
                expected[i] = (float) (2.0 * ((double) (w[i] * x[i])) * x[i]); // d/dw (wx)² = 2 (wx) x
            }
            assertArrayEquals(expected, grad, 0f);
        }
    }

    @Test
    void aQuotientIsDividedAgainForTheDivisorsGradient() throws Exception {
        // loss = sum(tanh(x² / w)): the divisor's gradient needs the quotient, which is divided again from x²
        Graph g = new Graph("division");
        Value x = g.input("x", DType.FLOAT, Shape.of(3));
        Value w = g.input("w", DType.FLOAT, Shape.of(1));
        Value square = g.mul(x, x);
        Value quotient = g.div(square, w);
        Value loss = g.reduceSum(g.unary("Tanh", quotient), false);
        Value grad = Autodiff.gradients(g, loss, List.of(w)).get("w");
        g.output(loss);
        g.output(g.node("Identity").in(grad).outputNames("grad_w").out());
        List<Value> kept = BackwardStash.of(g, loss).values();
        assertFalse(kept.contains(quotient), "the quotient is not kept: " + kept);
        float[] xs = {0.5f, -1.25f, 3f};
        float w0 = 1.7f;
        OrtEnvironment env = OrtRuntime.environment();
        try (OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(xs), new long[] {3});
             OnnxTensor wt = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[] {w0}), new long[] {1});
             OrtSession s = env.createSession(ModelWriter.toProto(g, null).toByteArray(), new OrtSession.SessionOptions());
             OrtSession.Result r = s.run(Map.of("x", xt, "w", wt))) {
            float[] got = new float[1];
            ((OnnxTensor) r.get("grad_w").orElseThrow()).getFloatBuffer().get(got);
            double expected = 0;
            for (float xi : xs) {
                double q = (double) xi * xi / w0;
                double t = Math.tanh(q);
                expected += (1 - t * t) * -q / w0; // d tanh(x²/w) / dw = sech²(q) · (-x²/w²)
            }
            assertEquals(expected, got[0], 1e-6);
        }
    }

    @Test
    void aNarrowedSoftmaxOutputIsCastAgainFromTheSoftmaxOutput() {
        // attention in half precision: probabilities in float32, cast to float16 for the product with the values
        Graph g = new Graph("narrowing");
        Value scores = g.input("scores", DType.FLOAT, Shape.of("t", "t"));
        Value values = g.input("values", DType.FLOAT16, Shape.of("t", 4));
        Value p = g.softmax(scores, -1);
        Value narrow = g.cast(p, DType.FLOAT16);
        Value loss = g.reduceSum(g.cast(g.matMul(narrow, values), DType.FLOAT), false);
        Autodiff.gradients(g, loss, List.of(scores, values));
        List<Value> kept = BackwardStash.of(g, loss).values();
        assertFalse(kept.contains(narrow), "the float16 copy is cast again: " + kept);
        assertTrue(kept.contains(p), "the softmax output is kept for its own gradient: " + kept);
    }
}
