package dev.smoldpo.artifacts.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtTrainingSession;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks the reader and writer against ONNX Runtime itself: a tiny model {@code loss = sum((x @ W)^2)}
 * with a hand-written gradient, trained by ORT's AdamW; ORT's saved checkpoint must read back with the
 * weights, moments and step that the same update computed here in Java gives, and checkpoints we write
 * must load in ORT with their properties.
 */
class CheckpointOrtTest {
    static final float[] X = {1f, 2f, 3f, -1f, 0.5f, 2f};
    static final long[] X_DIMS = {2, 3};
    static final float[] W0 = {0.5f, -0.25f, 1.0f};
    static final long[] W_DIMS = {3, 1};
    static final float LR = 0.05f;
    static final float BETA1 = 0.9f;
    static final float BETA2 = 0.999f;
    static final float EPS = 1e-8f;
    static final float WEIGHT_DECAY = 0.01f;

    static OrtEnvironment env;

    @TempDir
    Path dir;

    @BeforeAll
    static void ort() {
        env = OrtRuntime.environment();
    }

    /** Writes training, eval and optimizer models into {@code dir}. */
    static Artifacts artifacts(Path dir) {
        Graph train = new Graph("train");
        Value x = train.input("x", DType.FLOAT, Shape.fixed(X_DIMS));
        Value w = train.input("W", DType.FLOAT, Shape.fixed(W_DIMS));
        Value buffer = train.input("W_grad.accumulation.buffer", DType.FLOAT, Shape.fixed(W_DIMS));
        Value reset = train.input("lazy_reset_grad", DType.BOOL, Shape.fixed(1));
        Value y = train.matMul(x, w);
        Value loss = train.node("ReduceSum").in(train.mul(y, y)).attr("keepdims", 0L).outputNames("loss").out();
        Value dY = train.mul(y, train.scalar(DType.FLOAT, 2.0));
        Value dW = train.matMul(train.transpose(x, 1, 0), dY);
        Value accumulated = train.msNode("InPlaceAccumulatorV2").in(buffer, dW, reset)
                .outputNames("W_grad.accumulation.out").out();
        train.output(loss);
        train.output(accumulated);

        Graph eval = new Graph("eval");
        Value ex = eval.input("x", DType.FLOAT, Shape.fixed(X_DIMS));
        Value ew = eval.input("W", DType.FLOAT, Shape.fixed(W_DIMS));
        Value ey = eval.matMul(ex, ew);
        eval.output(eval.node("ReduceSum").in(eval.mul(ey, ey)).attr("keepdims", 0L).outputNames("loss").out());

        Graph optimizer = new Graph("optimizer");
        Value lr = optimizer.input("learning_rate", DType.FLOAT, Shape.fixed(1));
        Value step = optimizer.input("step", DType.INT64, Shape.fixed(1));
        Value params = optimizer.sequenceInput("params", DType.FLOAT);
        Value grads = optimizer.sequenceInput("gradients", DType.FLOAT);
        Value m1 = optimizer.sequenceInput("first_order_moments", DType.FLOAT);
        Value m2 = optimizer.sequenceInput("second_order_moments", DType.FLOAT);
        Value updated = optimizer.msNode("AdamWOptimizer").in(lr, step, params, grads, m1, m2)
                .attr("alpha", (double) BETA1).attr("beta", (double) BETA2).attr("epsilon", (double) EPS)
                .attr("weight_decay", (double) WEIGHT_DECAY).attr("correct_bias", 1L).attr("adam_mode", 1L)
                .outputNames("updated_flag").out();
        optimizer.output(updated);

        Artifacts a = new Artifacts(dir.resolve("training_model.onnx"), dir.resolve("eval_model.onnx"),
                dir.resolve("optimizer_model.onnx"));
        ModelWriter.write(train, a.training, null);
        ModelWriter.write(eval, a.eval, null);
        ModelWriter.write(optimizer, a.optimizer, null);
        return a;
    }

    record Artifacts(Path training, Path eval, Path optimizer) {
        OrtTrainingSession session(Path checkpoint) throws OrtException {
            return env.createTrainingSession(checkpoint.toString(), training.toString(), eval.toString(), optimizer.toString());
        }
    }

    /** ORT's AdamW, adam_mode 1 (Hugging Face flavour), correct_bias 1, in float as ORT computes it. */
    static final class JavaAdamW {
        final float[] w;
        final float[] m = new float[W0.length];
        final float[] v = new float[W0.length];
        long step;

        JavaAdamW(float[] w) {
            this.w = w.clone();
        }

        void update(float[] g) {
            step++;
            float alphaCorrection = 1f - (float) Math.pow(BETA1, step);
            float betaCorrection = 1f - (float) Math.pow(BETA2, step);
            float lrCorrected = LR * ((float) Math.sqrt(betaCorrection) / alphaCorrection);
            for (int i = 0; i < w.length; i++) {
                m[i] = BETA1 * m[i] + (1f - BETA1) * g[i];
                v[i] = BETA2 * v[i] + (1f - BETA2) * g[i] * g[i];
                float denom = (float) Math.sqrt(v[i]) + EPS;
                w[i] = w[i] - lrCorrected * m[i] / denom;
                w[i] = w[i] - LR * WEIGHT_DECAY * w[i];
            }
        }
    }

    /** dW = x^T (2 x W) for the [2,3] x and [3,1] W above. */
    static float[] gradient(float[] w) {
        float[] y = new float[2];
        for (int r = 0; r < 2; r++) {
            for (int k = 0; k < 3; k++) {
                y[r] += X[r * 3 + k] * w[k];
            }
        }
        float[] g = new float[3];
        for (int k = 0; k < 3; k++) {
            for (int r = 0; r < 2; r++) {
                g[k] += X[r * 3 + k] * 2f * y[r];
            }
        }
        return g;
    }

    static float loss(float[] w) {
        float sum = 0;
        for (int r = 0; r < 2; r++) {
            float y = 0;
            for (int k = 0; k < 3; k++) {
                y += X[r * 3 + k] * w[k];
            }
            sum += y * y;
        }
        return sum;
    }

    static float run(OrtTrainingSession session, boolean train) throws OrtException {
        try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(X), X_DIMS);
             OrtSession.Result result = train ? session.trainStep(Map.of("x", x)) : session.evalStep(Map.of("x", x))) {
            return (Float) result.get(0).getValue();
        }
    }

    @Test
    void ortTrainsFromOurCheckpointAndWeReadWhatOrtSaves() throws Exception {
        Artifacts a = artifacts(dir);
        Path initial = dir.resolve("initial.ckpt");
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("epoch", 3L);
        properties.put("beta", 0.125f);
        properties.put("run", "tiny-dpo ✓");
        CheckpointWriter.write(new Checkpoint(List.of(CheckpointTensor.ofFloats("W", W_DIMS, W0)), List.of(), List.of(),
                properties), initial);

        JavaAdamW expected = new JavaAdamW(W0);
        Path saved = dir.resolve("trained.ckpt");
        float evalLoss;
        try (OrtTrainingSession session = a.session(initial)) {
            // Our properties reach ORT.
            assertEquals(3, session.getIntProperty("epoch"));
            assertEquals(0.125f, session.getFloatProperty("beta"));
            assertEquals("tiny-dpo ✓", session.getStringProperty("run"));

            session.setLearningRate(LR);
            for (int i = 0; i < 2; i++) {
                session.lazyResetGrad();
                float trainLoss = run(session, true);
                assertEquals(loss(expected.w), trainLoss, 1e-4f * Math.max(1f, Math.abs(trainLoss)));
                session.optimizerStep();
                expected.update(gradient(expected.w));
            }
            evalLoss = run(session, false);
            session.addProperty("global_step", 2);
            session.addProperty("best_loss", evalLoss);
            session.addProperty("note", "after two steps");
            session.saveCheckpoint(saved, true);
        }
        assertEquals(loss(expected.w), evalLoss, 1e-4f * Math.max(1f, evalLoss));

        Checkpoint ort = CheckpointReader.read(saved);
        assertEquals(List.of("W"), ort.trainable().stream().map(CheckpointTensor::name).toList());
        assertTrue(ort.frozen().isEmpty());
        CheckpointTensor w = ort.parameter("W");
        assertArrayEquals(W_DIMS, w.dims());
        assertEquals(DType.FLOAT, w.dtype());
        float[] trained = w.toFloatArray();
        assertArrayEquals(expected.w, trained, 1e-5f, "W after two AdamW steps");
        assertTrue(Math.abs(trained[0] - W0[0]) > 1e-3f, "W moved");
        assertEquals(loss(trained), evalLoss, 1e-5f * Math.max(1f, evalLoss), "saved W is the one evalStep used");

        assertEquals(1, ort.optimizerGroups().size());
        OptimizerGroup group = ort.optimizerGroup(OptimizerGroup.DEFAULT_GROUP);
        assertNotNull(group, "ORT's group0");
        assertEquals(2L, group.step());
        assertEquals(List.of("W"), List.copyOf(group.momentsByParameter().keySet()));
        CheckpointTensor m = group.moment("W", OptimizerGroup.FIRST_MOMENT);
        CheckpointTensor v = group.moment("W", OptimizerGroup.SECOND_MOMENT);
        assertNotNull(m, "momentum0");
        assertNotNull(v, "momentum1");
        assertArrayEquals(W_DIMS, m.dims());
        assertArrayEquals(expected.m, m.toFloatArray(), 1e-4f);
        assertArrayEquals(expected.v, v.toFloatArray(), 1e-3f);

        Map<String, Object> p = ort.properties();
        assertEquals(3L, p.get("epoch"));
        assertEquals(0.125f, p.get("beta"));
        assertEquals("tiny-dpo ✓", p.get("run"));
        // ORT's Java addProperty(String, int) hands ORT a pointer to a 32-bit jint where ORT reads an
        // int64, so the upper half of what it stores is stack garbage. The low half is the value.
        assertEquals(2, (int) (long) (Long) p.get("global_step"));
        assertEquals(evalLoss, p.get("best_loss"));
        assertEquals("after two steps", p.get("note"));
        System.out.println("ORT checkpoint: " + Files.size(saved) + " bytes, group0 step " + group.step()
                + ", initial_learning_rate " + group.initialLearningRate() + ", properties " + p
                + ", external data file: " + Files.exists(CheckpointReader.externalDataPath(saved)));

        // What ORT wrote, rewritten by us (optimizer state included), loads in ORT and gives the same loss.
        Path rewritten = dir.resolve("rewritten.ckpt");
        CheckpointWriter.write(ort, rewritten);
        assertEquals(ort, CheckpointReader.read(rewritten));
        try (OrtTrainingSession session = a.session(rewritten)) {
            assertEquals(evalLoss, run(session, false));
            assertEquals(2, session.getIntProperty("global_step"));
            assertEquals("after two steps", session.getStringProperty("note"));
            // ORT resumes the step count from the checkpoint: one more update is step 3 ...
            session.setLearningRate(LR);
            session.lazyResetGrad();
            run(session, true);
            session.optimizerStep();
            Path again = dir.resolve("again.ckpt");
            session.saveCheckpoint(again, true);
            Checkpoint third = CheckpointReader.read(again);
            assertEquals(3L, third.optimizerGroup("group0").step());
            // ... and its moments: the third update continues from the restored ones.
            expected.update(gradient(expected.w));
            assertArrayEquals(expected.w, third.parameter("W").toFloatArray(), 1e-5f);
            assertArrayEquals(expected.m, third.optimizerGroup("group0").moment("W", "momentum0").toFloatArray(), 1e-4f);
            assertArrayEquals(expected.v, third.optimizerGroup("group0").moment("W", "momentum1").toFloatArray(), 1e-3f);
        }
    }

    @Test
    void ortLoadsOurCheckpointWithExternalData() throws Exception {
        Artifacts a = artifacts(dir);
        Path file = dir.resolve("external.ckpt");
        Checkpoint ours = new Checkpoint(List.of(CheckpointTensor.ofFloats("W", W_DIMS, W0)), List.of(), List.of(),
                Map.of("epoch", 1L));
        CheckpointWriter.write(ours, file, 0);
        assertTrue(Files.exists(CheckpointReader.externalDataPath(file)));
        try (OrtTrainingSession session = a.session(file)) {
            assertEquals(loss(W0), run(session, false), 1e-5f);
            assertEquals(1, session.getIntProperty("epoch"));
        }
    }
}
