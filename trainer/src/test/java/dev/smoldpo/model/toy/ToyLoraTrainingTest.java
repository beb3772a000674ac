package dev.smoldpo.model.toy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.train.TrainingSession;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The toy LoRA MLP through the whole stack: artifacts built in Java, trained by ORT's training API. */
class ToyLoraTrainingTest {
    private static final ToyLoraMlp MODEL = ToyLoraMlp.standard();
    private static final ToyTask TASK = new ToyTask(MODEL, 99);

    @TempDir
    Path dir;

    private ArtifactFiles export(AdamWConfig adamw) {
        return ArtifactBuilder.build(MODEL, adamw, dir.resolve("toy"), "toy", Map.of());
    }

    private static Map<String, OnnxTensor> feed(TrainingSession s, ToyTask.Batch b) throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>();
        in.put(ToyLoraMlp.INPUT, s.floats(b.x(), b.size(), MODEL.dims().in()));
        in.put(ToyLoraMlp.TARGET, s.floats(b.target(), b.size(), MODEL.dims().out()));
        return in;
    }

    private static float evalLoss(TrainingSession s, ToyTask.Batch b) throws OrtException {
        Map<String, OnnxTensor> in = feed(s, b);
        try {
            return s.evalStep(in).get("loss")[0];
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }

    private static void step(TrainingSession s, ToyTask.Batch... micro) throws OrtException {
        s.ort().lazyResetGrad();
        for (ToyTask.Batch b : micro) {
            Map<String, OnnxTensor> in = feed(s, b);
            try {
                s.trainStep(in);
            } finally {
                in.values().forEach(OnnxTensor::close);
            }
        }
        s.ort().optimizerStep();
    }

    @Test
    void lossFallsTenfoldAndOnlyLoraChanges() throws Exception {
        ArtifactFiles files = export(AdamWConfig.DEFAULT.withWeightDecay(0));
        ToyTask.Batch held = TASK.batch(64, 12345);
        byte[] weightsBefore = sha256(files.weights());
        float before;
        float after;
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1)) {
            s.ort().setLearningRate(0.01f);
            before = evalLoss(s, held);
            for (int i = 0; i < 400; i++) {
                step(s, TASK.batch(32, i));
            }
            after = evalLoss(s, held);
            s.ort().saveCheckpoint(dir.resolve("trained.ckpt"), true);

            // Frozen weights: ORT's own export of the trained eval graph must carry the original bytes.
            Path exported = files.dir().resolve("inference.onnx");
            s.ort().exportModelForInference(exported, new String[] {"loss"});
            assertFrozenWeightsUnchanged(files, exported);
        }
        assertArrayEquals(weightsBefore, sha256(files.weights()), "the frozen weights file must not change");
        System.out.printf("toy LoRA MLP: held-out loss %.5f -> %.5f (%.1fx)%n", before, after, before / after);
        assertTrue(after * 10 <= before, "loss must fall at least 10x: " + before + " -> " + after);

        Checkpoint trained = CheckpointReader.read(dir.resolve("trained.ckpt"));
        Checkpoint initial = CheckpointReader.read(files.checkpoint());
        assertEquals(initial.trainable().size(), trained.trainable().size());
        for (CheckpointTensor t : initial.trainable()) {
            assertTrue(!java.util.Arrays.equals(t.toFloatArray(), trained.parameter(t.name()).toFloatArray()),
                    t.name() + " must have trained");
        }
    }

    private static void assertFrozenWeightsUnchanged(ArtifactFiles files, Path exported) throws Exception {
        // The exported graph still points at our shared weights file: check that the file is the one
        // we wrote (hash taken before training) and that ORT's graph references the same bytes.
        Map<String, byte[]> original = initializerBytes(files.eval());
        Map<String, byte[]> after = initializerBytes(exported);
        List<String> frozen = List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias");
        for (String name : frozen) {
            assertTrue(original.containsKey(name) && after.containsKey(name), name);
            assertArrayEquals(original.get(name), after.get(name), name + " must be bit-identical after training");
        }
    }

    /** Initializer bytes of a model file, resolving external data next to it. */
    private static Map<String, byte[]> initializerBytes(Path model) throws Exception {
        OnnxMl.ModelProto proto;
        try (InputStream in = Files.newInputStream(model)) {
            proto = OnnxMl.ModelProto.parseFrom(in);
        }
        Map<String, byte[]> out = new HashMap<>();
        for (OnnxMl.TensorProto t : proto.getGraph().getInitializerList()) {
            if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
                Map<String, String> ext = new HashMap<>();
                t.getExternalDataList().forEach(e -> ext.put(e.getKey(), e.getValue()));
                byte[] all = Files.readAllBytes(model.resolveSibling(ext.get("location")));
                int offset = Integer.parseInt(ext.getOrDefault("offset", "0"));
                int length = Integer.parseInt(ext.get("length"));
                out.put(t.getName(), java.util.Arrays.copyOfRange(all, offset, offset + length));
            } else if (!t.getRawData().isEmpty()) {
                out.put(t.getName(), t.getRawData().toByteArray());
            } else {
                ByteBuffer b = ByteBuffer.allocate(t.getFloatDataCount() * 4).order(ByteOrder.LITTLE_ENDIAN);
                t.getFloatDataList().forEach(b::putFloat);
                out.put(t.getName(), b.array());
            }
        }
        return out;
    }

    @Test
    void gradientsAccumulatedOverMicroBatchesEqualTheUnionBatch() throws Exception {
        // With epsilon far above any gradient, AdamW's first update is lr * g / epsilon: linear in
        // the accumulated gradient, so equal updates mean equal gradients (a plain Adam step,
        // ~lr * sign(g), could not tell a doubled gradient from the right one).
        ArtifactFiles files = export(AdamWConfig.DEFAULT.withEpsilon(1e3).withWeightDecay(0));
        ToyTask.Batch a = TASK.batch(3, 1);
        ToyTask.Batch b = TASK.batch(5, 2);
        ToyTask.Batch union = new ToyTask.Batch(8, concat(a.x(), b.x()), concat(a.target(), b.target()));
        // Start from non-zero B tensors: with PEFT's B = 0 the gradient of every A is exactly zero.
        Checkpoint initial = withRandomB(CheckpointReader.read(files.checkpoint()));
        Path start = dir.resolve("start.ckpt");
        CheckpointWriter.write(initial, start);
        Checkpoint micro = trainOnce(files, start, "micro", a, b);
        Checkpoint whole = trainOnce(files, start, "whole", union);
        for (CheckpointTensor t : whole.trainable()) {
            float[] w0 = initial.parameter(t.name()).toFloatArray();
            float[] u = t.toFloatArray();
            float[] m = micro.parameter(t.name()).toFloatArray();
            double maxUpdate = 0;
            for (int i = 0; i < u.length; i++) {
                maxUpdate = Math.max(maxUpdate, Math.abs(u[i] - w0[i]));
                // float32 sums in a different order: allow 1e-4 of the update itself
                assertEquals(u[i] - w0[i], m[i] - w0[i], 1e-4 * Math.abs(u[i] - w0[i]) + 1e-9,
                        t.name() + "[" + i + "] update");
            }
            assertTrue(maxUpdate > 1e-7, t.name() + " must receive an update");
        }
    }

    @Test
    void maxGradNormClipsTheGlobalNormOfTheAccumulatedGradient() throws Exception {
        // As above, a huge epsilon makes the first AdamW update linear in the gradient. torch's
        // AdamW bias-corrects m and v before adding epsilon, so the first update is
        // lr * g / (|g| + epsilon) ≈ lr * g / epsilon. The global norm of the recovered gradient
        // must come out as max_grad_norm.
        double maxNorm = 0.05;
        double lr = 1e7; // large enough that each update is far above float32 rounding of the weights
        double eps = 1e6;
        ArtifactFiles files = export(AdamWConfig.DEFAULT.withEpsilon(eps).withWeightDecay(0).withMaxGradNorm(maxNorm));
        Checkpoint initial = withRandomB(CheckpointReader.read(files.checkpoint()));
        Path start = dir.resolve("start.ckpt");
        CheckpointWriter.write(initial, start);
        Checkpoint after;
        try (TrainingSession s = TrainingSession.open(files, start, 1)) {
            s.ort().setLearningRate((float) lr);
            step(s, TASK.batch(4, 3), TASK.batch(4, 4));
            s.ort().saveCheckpoint(dir.resolve("clipped.ckpt"), false);
            after = CheckpointReader.read(dir.resolve("clipped.ckpt"));
        }
        double sumSquares = 0;
        for (CheckpointTensor t : initial.trainable()) {
            float[] w0 = t.toFloatArray();
            float[] w1 = after.parameter(t.name()).toFloatArray();
            for (int i = 0; i < w0.length; i++) {
                double g = (w0[i] - w1[i]) * eps / lr;
                sumSquares += g * g;
            }
        }
        assertEquals(maxNorm, Math.sqrt(sumSquares), 2e-3 * maxNorm, "global norm of the clipped gradient");
    }

    private static Checkpoint withRandomB(Checkpoint c) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        List<CheckpointTensor> tensors = new ArrayList<>();
        for (CheckpointTensor t : c.trainable()) {
            float[] v = t.toFloatArray();
            if (t.name().endsWith("lora_B")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (r.nextDouble() - 0.5);
                }
            }
            tensors.add(CheckpointTensor.ofFloats(t.name(), t.dims(), v));
        }
        return Checkpoint.of(tensors, List.of());
    }

    private Checkpoint trainOnce(ArtifactFiles files, Path start, String tag, ToyTask.Batch... micro) throws Exception {
        try (TrainingSession s = TrainingSession.open(files, start, 1)) {
            s.ort().setLearningRate(1.0f);
            step(s, micro);
            Path ckpt = dir.resolve(tag + ".ckpt");
            s.ort().saveCheckpoint(ckpt, false);
            return CheckpointReader.read(ckpt);
        }
    }

    @Test
    void savedCheckpointReloadsToTheSameEvalLossBitForBitAndMatchesAPlainForward() throws Exception {
        ArtifactFiles files = export(AdamWConfig.DEFAULT);
        ToyTask.Batch held = TASK.batch(16, 777);
        Path saved = dir.resolve("saved.ckpt");
        float lossBefore;
        float[] predictionBefore;
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1)) {
            s.ort().setLearningRate(0.01f);
            for (int i = 0; i < 20; i++) {
                step(s, TASK.batch(16, 1000 + i));
            }
            Map<String, OnnxTensor> in = feed(s, held);
            Map<String, float[]> out = s.evalStep(in);
            in.values().forEach(OnnxTensor::close);
            lossBefore = out.get("loss")[0];
            predictionBefore = out.get(ToyLoraMlp.PREDICTION);
            s.ort().saveCheckpoint(saved, true);
        }
        try (TrainingSession s = TrainingSession.open(files, saved, 1)) {
            float lossAfter = evalLoss(s, held);
            assertEquals(Float.floatToIntBits(lossBefore), Float.floatToIntBits(lossAfter),
                    "eval loss after reload: " + lossBefore + " vs " + lossAfter);
        }

        // Our reader gives the trained LoRA tensors; a plain inference session of the eval graph fed
        // with them reproduces evalStep.
        Checkpoint trained = CheckpointReader.read(saved);
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1);
             OrtSession plain = s.env().createSession(files.eval().toString())) {
            Map<String, OnnxTensor> in = feed(s, held);
            List<OnnxTensor> owned = new ArrayList<>(in.values());
            for (CheckpointTensor t : trained.trainable()) {
                OnnxTensor v = OnnxTensor.createTensor(s.env(), FloatBuffer.wrap(t.toFloatArray()), t.dims());
                in.put(t.name(), v);
                owned.add(v);
            }
            try (OrtSession.Result r = plain.run(in)) {
                float loss = ((OnnxTensor) r.get("loss").orElseThrow()).getFloatBuffer().get(0);
                FloatBuffer pb = ((OnnxTensor) r.get(ToyLoraMlp.PREDICTION).orElseThrow()).getFloatBuffer();
                float[] prediction = new float[pb.remaining()];
                pb.get(prediction);
                assertEquals(lossBefore, loss, 1e-6 * Math.abs(lossBefore));
                assertArrayEquals(predictionBefore, prediction, 1e-6f);
            } finally {
                owned.forEach(OnnxTensor::close);
            }
        }
    }

    @Test
    void artifactsFollowTheContract() {
        ArtifactFiles files = export(AdamWConfig.DEFAULT.withMaxGradNorm(1.0));
        ModelSummary training = ModelSummary.read(files.training());
        assertEquals(8, training.irVersion());
        assertEquals(Map.of("", 17L, "com.microsoft", 1L), training.opsets());
        assertEquals("loss", training.outputNames().get(0));
        assertTrue(training.inputNames().contains("lazy_reset_grad"));
        for (String p : List.of("fc1.lora_A", "fc1.lora_B", "fc2.lora_A", "fc2.lora_B")) {
            assertTrue(training.inputNames().contains(p + "_grad.accumulation.buffer"), p);
            assertTrue(training.outputNames().contains(p + "_grad.accumulation.out"), p);
        }
        assertEquals(4, training.opCounts().get("com.microsoft::InPlaceAccumulatorV2"));
        assertEquals(List.of("weights.onnx.data"), training.externalDataFiles());
        ModelSummary eval = ModelSummary.read(files.eval());
        assertTrue(eval.opCounts().keySet().stream().noneMatch(op -> op.contains("Accumulator")));
        assertTrue(!eval.inputNames().contains("lazy_reset_grad"));
        ModelSummary optimizer = ModelSummary.read(files.optimizer());
        assertEquals(List.of("learning_rate", "step", "params", "gradients", "first_order_moments", "second_order_moments"),
                optimizer.inputNames());
        assertEquals(List.of("updated_flag"), optimizer.outputNames());
    }

    private static byte[] sha256(Path file) throws Exception {
        return java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
