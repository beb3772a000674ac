package dev.smoldpo.autodiff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;

/** Checks Dropout's gradient against the mask of the same run (see the test that calls it). */
final class DropoutCheck {
    private DropoutCheck() {}

    static void run(double ratio) throws Exception {
        int n = 64;
        float[] w = new float[n];
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) Math.sin(i + 1);
            x[i] = (float) Math.cos(i);
        }
        Graph g = new Graph("dropout");
        Value in = g.input("x", DType.FLOAT, Shape.of("batch", 8));
        Value weights = g.initializer("w", TensorData.floats(new long[] {8, 8}, w));
        List<Value> dropped = g.dropout(in, ratio, g.constant(TensorData.bools(new long[0], true)), 3);
        Value loss = g.reduceSum(g.mul(dropped.get(0), weights), false);
        Value grad = Autodiff.gradients(g, loss, List.of(in)).get("x");
        g.output(loss);
        g.output(g.node("Identity").in(grad).outputNames("dx").out());
        g.output(g.cast(dropped.get(1), DType.FLOAT));
        String maskName = g.outputs().get(2).name();
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession s = env.createSession(ModelWriter.toProto(g, null).toByteArray());
             OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {8, 8});
             OrtSession.Result r = s.run(Map.of("x", xt))) {
            float[] dx = new float[n];
            float[] mask = new float[n];
            ((OnnxTensor) r.get("dx").orElseThrow()).getFloatBuffer().get(dx);
            ((OnnxTensor) r.get(maskName).orElseThrow()).getFloatBuffer().get(mask);
            int kept = 0;
            for (int i = 0; i < n; i++) {
                kept += (int) mask[i];
                assertEquals(w[i] * mask[i] / (1 - ratio), dx[i], 1e-6, "dx[" + i + "]");
            }
            assertTrue(kept > 0 && kept < n, "the mask drops some units and keeps others: kept " + kept);
        }
    }
}
