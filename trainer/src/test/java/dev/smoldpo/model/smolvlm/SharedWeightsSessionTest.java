package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.runtime.PlacementCheck;
import dev.smoldpo.runtime.SharedInitializers;
import dev.smoldpo.train.TrainingSession;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SharedInitializers} on the CPU, through ORT's training API: the training and eval sessions of a
 * training session, and a second training session on the same export, read the one host copy of the
 * weights that OrtApi::AddInitializer handed them. On a GPU the same calls hand over a CUDA copy.
 */
class SharedWeightsSessionTest {
    @TempDir
    static Path root;
    static ArtifactFiles files;
    static Map<String, TensorData> inputs;

    @BeforeAll
    static void export() throws Exception {
        Path model = DemoModel.write(root.resolve("demo-model"), 7);
        files = SmolVlmExporter.export(model, root.resolve("artifacts"), new SmolVlmExporter.Options("demo",
                new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        ModelConfig config = ModelConfig.load(files.dir());
        List<DpoCollator.Pair> pairs = DemoFixture.pairs(config, 23);
        inputs = new HashMap<>(new DpoCollator(config).collate(pairs, DpoLayout.SHARED_PREFIX));
        inputs.putAll(DemoFixture.dpoInputs(pairs.size(), 0.1f, new float[] {-40, -40}, new float[] {-30, -30}));
    }

    private static TrainingSession open(boolean share) throws Exception {
        return TrainingSession.open(files.training(), files.eval(), files.optimizer(), files.checkpoint(), 1, false,
                PlacementCheck.OFF, share);
    }

    /** Three train steps' losses, then the eval graph's loss. */
    private static float[] run(TrainingSession s) throws Exception {
        float[] out = new float[4];
        s.ort().setLearningRate(1e-2f);
        for (int step = 0; step < 4; step++) {
            Map<String, OnnxTensor> feed = OrtTensors.of(s.env(), inputs);
            try {
                if (step < 3) {
                    s.ort().lazyResetGrad();
                    out[step] = s.trainStep(feed).get("loss")[0];
                    s.ort().optimizerStep();
                } else {
                    out[step] = s.evalStep(feed).get("loss")[0];
                }
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
        return out;
    }

    @Test
    void sharedWeightsTrainAndEvaluateAsLoadedOnesBitForBit() throws Exception {
        float[] own;
        try (TrainingSession s = open(false)) {
            own = run(s);
        }
        try (TrainingSession s = open(true)) {
            assertEquals(1, SharedInitializers.loadedFiles());
            assertArrayEquals(own, run(s), 0f, "losses of 3 train steps and an eval step");
        }
        assertEquals(0, SharedInitializers.loadedFiles(), "closing the last session frees the copy");
    }

    @Test
    void aFailureToShareSaysSoAndHowToTurnItOff() throws Exception {
        Path alone = Files.createDirectories(root.resolve("without-weights")).resolve("training_model.onnx");
        Files.copy(files.training(), alone); // its external data file is not beside it
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> SharedInitializers.attach(options, List.of(alone), false));
            assertTrue(e.getMessage().startsWith(SharedInitializers.FAILED), e.getMessage());
            assertTrue(e.getMessage().contains("weights.onnx.data"), e.getMessage());
        }
        assertEquals(0, SharedInitializers.loadedFiles());
    }

    @Test
    void sessionsOpenTogetherReadOneCopy() throws Exception {
        float[] own;
        try (TrainingSession s = open(false)) {
            own = run(s);
        }
        try (TrainingSession first = open(true)) {
            MemorySegment bytes = SharedInitializers.hostBytes(files.weights());
            bytes.fill((byte) 0); // every frozen weight of the copy now reads 0, the file is unchanged
            try (TrainingSession second = open(true)) {
                assertEquals(1, SharedInitializers.loadedFiles(), "both sessions hold the same loaded file");
                float[] zeroed = run(second);
                assertNotEquals(own[0], zeroed[0], "the second session computes with the zeroed copy, not the file");
                assertTrue(Float.isFinite(zeroed[0]), "loss " + zeroed[0]);
            }
            assertEquals(1, SharedInitializers.loadedFiles(), "the first session still holds it");
        }
        assertEquals(0, SharedInitializers.loadedFiles());
        try (TrainingSession s = open(true)) {
            assertArrayEquals(own, run(s), 0f, "a fresh copy after the last one was freed");
        }
    }
}
