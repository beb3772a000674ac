package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.testing.SharedModels;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real SmolVLM-256M-Instruct config (shared/models) with random weights of its exact shapes,
 * generated here: it exports, and its training graph runs one trainStep on CPU.
 */
class SmolVlm256mExportTest {
    @TempDir
    Path dir;

    static Path realConfig() {
        return SharedModels.smolVlmConfig();
    }

    @Test
    void realShapesExportAndTrainOneStep() throws Exception {
        long t0 = System.nanoTime();
        Path model = RandomCheckpoint.write(realConfig(), dir.resolve("model"), 1, SafetensorsDtype.BF16);
        long t1 = System.nanoTime();
        ArtifactFiles files = SmolVlmExporter.export(model, dir.resolve("artifacts"), new SmolVlmExporter.Options("smolvlm-256m",
                new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        long t2 = System.nanoTime();
        ModelConfig config = ModelConfig.load(model);
        ModelSummary training = ModelSummary.read(files.training());
        assertEquals(2 * (12 * 3 + 30 * 7), training.inputNames().stream().filter(n -> n.endsWith("_grad.accumulation.buffer")).count());
        assertTrue(Files.size(files.weights()) > 1_000_000_000L, "frozen f32 weights");
        // The trainable tensors, with PEFT's prefix, are exactly PEFT's adapter names and shapes (golden list).
        List<String> exported = new ArrayList<>();
        for (var t : CheckpointReader.read(files.checkpoint()).trainable()) {
            exported.add("base_model.model." + t.name() + " " + java.util.Arrays.toString(t.dims()));
        }
        List<String> golden;
        try (var in = SmolVlm256mExportTest.class.getResourceAsStream("/dev/smoldpo/model/lora/peft-smolvlm-256m-default-targets-r8.txt")) {
            golden = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        }
        assertEquals(new java.util.TreeSet<>(golden), new java.util.TreeSet<>(exported));

        List<DpoCollator.Pair> pairs = List.of(pair(config));
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(pairs, DpoLayout.SHARED_PREFIX));
        in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, 0.1f));
        in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {1}, 1f));
        in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {1}, -100f));
        in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {1}, -100f));
        long t3;
        long t4;
        float loss;
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 0)) {
            t3 = System.nanoTime();
            Map<String, OnnxTensor> feed = OrtTensors.of(s.env(), in);
            try {
                s.ort().setLearningRate(1e-4f);
                s.ort().lazyResetGrad();
                loss = s.trainStep(feed).get("loss")[0];
                s.ort().optimizerStep();
                t4 = System.nanoTime();
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
        System.out.printf("SmolVLM-256M shapes: random checkpoint %.1f s, export %.1f s, training graph %,d nodes, "
                + "session %.1f s, first trainStep+optimizerStep %.1f s, loss %.4f%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9,
                training.nodeCount(), (t3 - t2) / 1e9, (t4 - t3) / 1e9, loss);
        assertTrue(Float.isFinite(loss), "finite loss");
    }

    /** One pair with a single 512x512 tile: 64 image tokens, a short question and two short answers. */
    static DpoCollator.Pair pair(ModelConfig config) {
        SplittableRandom r = new SplittableRandom(5);
        List<Long> prompt = new ArrayList<>();
        prompt.add(1L);
        prompt.add(49189L);
        prompt.add(49152L);
        for (int i = 0; i < config.imageSeqLen(); i++) {
            prompt.add((long) config.imageTokenId());
        }
        prompt.add(49189L);
        for (int i = 0; i < 20; i++) {
            prompt.add(100L + r.nextInt(40000));
        }
        long[] chosen = new long[16];
        long[] rejected = new long[18];
        for (int i = 0; i < chosen.length; i++) {
            chosen[i] = 100L + r.nextInt(40000);
        }
        for (int i = 0; i < rejected.length; i++) {
            rejected[i] = 100L + r.nextInt(40000);
        }
        int s = config.vision().imageSize();
        float[] px = new float[3 * s * s];
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return new DpoCollator.Pair(prompt.stream().mapToLong(Long::longValue).toArray(), chosen, rejected,
                new DpoCollator.Tiles(1, px, null));
    }
}
