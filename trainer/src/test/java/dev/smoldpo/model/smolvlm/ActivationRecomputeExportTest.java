package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export-artifacts --recompute}: the demo exported with each setting, LoRA dropout on (so the
 * kept-not-recomputed Dropout masks are exercised), trained three steps on the CPU. Recomputation changes
 * where the backward pass gets its activations, not their values: the losses and the trained adapters must
 * equal the run that keeps everything, bit for bit.
 */
class ActivationRecomputeExportTest {
    @TempDir
    static Path root;
    static final Map<ActivationRecompute, ArtifactFiles> EXPORTS = new EnumMap<>(ActivationRecompute.class);

    @BeforeAll
    static void export() throws Exception {
        Path model = DemoModel.write(root.resolve("demo-model"), 7);
        for (ActivationRecompute r : ActivationRecompute.values()) {
            SmolVlmExporter.Options options = new SmolVlmExporter.Options("demo-" + r.configName(),
                    new LoraConfig(4, 8, 0.1, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3)
                    .withRecompute(r);
            EXPORTS.put(r, SmolVlmExporter.export(model, root.resolve("artifacts-" + r.configName()), options));
        }
    }

    @Test
    void theManifestRecordsTheSettingAndTheTrainingGraphGrowsByTheCopies() throws Exception {
        int none = ModelSummary.read(EXPORTS.get(ActivationRecompute.NONE).training()).nodeCount();
        int attention = ModelSummary.read(EXPORTS.get(ActivationRecompute.ATTENTION).training()).nodeCount();
        int vision = ModelSummary.read(EXPORTS.get(ActivationRecompute.VISION).training()).nodeCount();
        int layers = ModelSummary.read(EXPORTS.get(ActivationRecompute.LAYERS).training()).nodeCount();
        System.out.printf("training graph nodes: none %,d, attention %,d, vision %,d, layers %,d%n", none, attention, vision,
                layers);
        assertTrue(none < attention && attention < vision && vision < layers,
                none + " < " + attention + " < " + vision + " < " + layers);
        for (ActivationRecompute r : ActivationRecompute.values()) {
            ArtifactFiles files = EXPORTS.get(r);
            assertEquals(r.configName(), Manifest.read(files.manifest()).extra().get(SmolVlmExporter.RECOMPUTE));
            assertEquals(ModelSummary.read(EXPORTS.get(ActivationRecompute.NONE).eval()).nodeCount(),
                    ModelSummary.read(files.eval()).nodeCount(), r + ": the eval graph has no gradient pass to change");
        }
    }

    @Test
    void recomputingGivesTheLossesAndAdaptersOfKeepingEverythingBitForBit() throws Exception {
        Trained kept = train(ActivationRecompute.NONE);
        for (ActivationRecompute r : List.of(ActivationRecompute.ATTENTION, ActivationRecompute.VISION,
                ActivationRecompute.LAYERS)) {
            Trained recomputed = train(r);
            assertArrayEquals(kept.losses(), recomputed.losses(), 0f, r + ": losses of 3 steps");
            assertEquals(kept.adapters().keySet(), recomputed.adapters().keySet());
            for (String name : kept.adapters().keySet()) {
                assertArrayEquals(kept.adapters().get(name), recomputed.adapters().get(name), r + ": " + name);
            }
        }
        assertTrue(kept.losses()[2] != kept.losses()[0], "the adapters moved between steps");
    }

    private record Trained(float[] losses, Map<String, byte[]> adapters) {}

    private static Trained train(ActivationRecompute r) throws Exception {
        ArtifactFiles files = EXPORTS.get(r);
        ModelConfig config = ModelConfig.load(files.dir());
        List<DpoCollator.Pair> pairs = DemoFixture.pairs(config, 23);
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(pairs, DpoLayout.SHARED_PREFIX));
        in.putAll(DemoFixture.dpoInputs(pairs.size(), 0.1f, new float[] {-40, -40}, new float[] {-30, -30}));
        float[] losses = new float[3];
        Path saved = root.resolve("trained-" + r.configName());
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1)) {
            s.ort().setLearningRate(1e-2f);
            for (int step = 0; step < losses.length; step++) {
                Map<String, OnnxTensor> feed = OrtTensors.of(s.env(), in);
                try {
                    s.ort().lazyResetGrad();
                    losses[step] = s.trainStep(feed).get("loss")[0];
                    s.ort().optimizerStep();
                } finally {
                    feed.values().forEach(OnnxTensor::close);
                }
            }
            s.ort().saveCheckpoint(saved, false);
        }
        Map<String, byte[]> adapters = new TreeMap<>();
        for (CheckpointTensor t : CheckpointReader.read(saved).trainable()) {
            ByteBuffer raw = t.rawLittleEndian().duplicate();
            byte[] bytes = new byte[raw.remaining()];
            raw.get(bytes);
            adapters.put(t.name(), bytes);
        }
        return new Trained(losses, adapters);
    }
}
