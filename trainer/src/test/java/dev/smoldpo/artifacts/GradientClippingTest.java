package dev.smoldpo.artifacts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The optimizer graph's gradient clipping through real ORT training sessions, on a model with many
 * trainable tensors whose gradient norms span six orders of magnitude (so that the order in which
 * their squared norms are added changes the float32 total).
 */
class GradientClippingTest {
    private static final int TENSORS = 24;
    private static final int IN = 8;
    private static final int STEPS = 8;

    @TempDir
    Path dir;

    /** loss = Σ_i s_i · sum((x W_i)²) with W_i of [IN, 1 + i % 5] and s_i from 1e-3 to 1e3. */
    static final class ManyTensors implements ModelDefinition {
        @Override
        public List<Parameter> trainableParameters() {
            SplittableRandom r = new SplittableRandom(17);
            List<Parameter> params = new ArrayList<>();
            for (int i = 0; i < TENSORS; i++) {
                int cols = 1 + i % 5;
                float[] v = new float[IN * cols];
                for (int k = 0; k < v.length; k++) {
                    v[k] = (float) (r.nextDouble() - 0.5);
                }
                params.add(new Parameter("w" + i, TensorData.floats(new long[] {IN, cols}, v)));
            }
            return params;
        }

        @Override
        public Forward build(Graph g, Map<String, Value> trainable) {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", IN));
            Value loss = null;
            for (int i = 0; i < TENSORS; i++) {
                Value y = g.matMul(x, trainable.get("w" + i));
                Value term = g.mul(g.reduceSum(g.mul(y, y), false), g.scalar(DType.FLOAT, Math.pow(10, i % 7 - 3)));
                loss = loss == null ? term : g.add(loss, term);
            }
            return new Forward(g.node("Identity").in(loss).outputNames("loss").out(), List.of());
        }
    }

    private static float[] batch() {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[4 * IN];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return x;
    }

    /** STEPS AdamW steps in a fresh session with {@code optimizer}; the trained tensors by name. */
    private Map<String, float[]> train(ArtifactFiles files, Path optimizer, String label) throws Exception {
        Path saved = dir.resolve(label + ".ckpt");
        try (TrainingSession s = TrainingSession.open(files.training(), files.eval(), optimizer, files.checkpoint(), 1, false)) {
            s.ort().setLearningRate(0.01f);
            for (int step = 0; step < STEPS; step++) {
                s.ort().lazyResetGrad();
                try (OnnxTensor x = s.floats(batch(), 4, IN)) {
                    s.trainStep(Map.of("x", x));
                }
                s.ort().optimizerStep();
            }
            s.ort().saveCheckpoint(saved, false);
        }
        Checkpoint c = CheckpointReader.read(saved);
        Map<String, float[]> out = new java.util.TreeMap<>();
        for (CheckpointTensor t : c.trainable()) {
            out.put(t.name(), t.toFloatArray());
        }
        return out;
    }

    @Test
    void sessionsThatClipEveryStepEndBitIdentical() throws Exception {
        // max_grad_norm far below the gradient norm: every step clips
        ArtifactFiles files = ArtifactBuilder.build(new ManyTensors(), AdamWConfig.DEFAULT.withMaxGradNorm(1e-3),
                dir.resolve("artifacts"), "many-tensors", Map.of());
        Map<String, float[]> first = train(files, files.optimizer(), "first");
        for (int session = 0; session < 3; session++) {
            Map<String, float[]> again = train(files, files.optimizer(), "again-" + session);
            assertEquals(first.keySet(), again.keySet());
            for (String name : first.keySet()) {
                float[] a = first.get(name);
                float[] b = again.get(name);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]),
                            "session " + session + ", " + name + "[" + i + "]: " + a[i] + " vs " + b[i]);
                }
            }
        }
    }

    @Test
    void clipsAsOrtsInplaceClipGradNormDoesUpToRounding() throws Exception {
        AdamWConfig adamw = AdamWConfig.DEFAULT.withMaxGradNorm(1e-3);
        ArtifactFiles files = ArtifactBuilder.build(new ManyTensors(), adamw, dir.resolve("artifacts"), "many-tensors", Map.of());
        Path ortClip = dir.resolve("ort_clip_optimizer.onnx");
        dev.smoldpo.onnx.ModelWriter.write(ArtifactBuilder.optimizerGraph(adamw, 0), ortClip, null); // ORT's own InplaceClipGradNorm
        Map<String, float[]> ours = train(files, files.optimizer(), "ours");
        Map<String, float[]> ort = train(files, ortClip, "ort");
        Map<String, float[]> unclipped = train(files, unclipped(files), "unclipped");
        double maxDiff = 0;
        double maxClipEffect = 0;
        for (String name : ours.keySet()) {
            float[] a = ours.get(name);
            float[] b = ort.get(name);
            float[] u = unclipped.get(name);
            for (int i = 0; i < a.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
                maxClipEffect = Math.max(maxClipEffect, Math.abs(a[i] - u[i]));
            }
        }
        assertTrue(maxDiff <= 1e-6, "ours vs ORT's clip: " + maxDiff);
        assertTrue(maxClipEffect > 1e-3, "clipping changed the result: " + maxClipEffect);
    }

    private Path unclipped(ArtifactFiles files) {
        Path file = dir.resolve("unclipped_optimizer.onnx");
        ArtifactBuilder.writeOptimizer(AdamWConfig.DEFAULT, TENSORS, file);
        return file;
    }
}
