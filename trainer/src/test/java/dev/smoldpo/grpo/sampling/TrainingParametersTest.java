package dev.smoldpo.grpo.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A training session's live parameters read through ORT's C training API equal the checkpoint it saves. */
class TrainingParametersTest {
    @TempDir
    static Path root;
    static SamplingFixture fixture;

    @BeforeAll
    static void export() throws Exception {
        fixture = new SamplingFixture(root);
    }

    @Test
    void theLiveParametersAreThoseTheSessionSavesAfterAnOptimizerStep() throws Exception {
        Path start = fixture.checkpoint(fixture.randomB(3, 0.2), root.resolve("start.ckpt"));
        Manifest manifest = Manifest.read(fixture.artifacts.manifest());
        List<TrainingParameters.Spec> specs = TrainingParameters.specs(manifest);
        try (TrainingSession session = TrainingSession.open(fixture.artifacts.training(), fixture.artifacts.eval(),
                fixture.artifacts.optimizer(), start, 1, false)) {
            Map<String, float[]> before = TrainingParameters.read(session.ort(), specs);
            assertEquals(fixture.randomB(3, 0.2).keySet(), before.keySet());
            fixture.randomB(3, 0.2).forEach((name, v) -> assertArrayEquals(v, before.get(name), name));
            step(session);
            long t0 = System.nanoTime();
            Map<String, float[]> live = TrainingParameters.read(session.ort(), specs);
            long t1 = System.nanoTime();
            Path saved = root.resolve("saved.ckpt");
            session.ort().saveCheckpoint(saved, false);
            Map<String, float[]> fromDisk = CheckpointReader.read(saved).trainableFloats();
            long t2 = System.nanoTime();
            System.out.printf("demo: %d LoRA values, live read %.2f ms, checkpoint save+read %.2f ms%n",
                    live.values().stream().mapToInt(v -> v.length).sum(), (t1 - t0) / 1e6, (t2 - t1) / 1e6);
            assertEquals(fromDisk.keySet(), live.keySet());
            boolean moved = false;
            for (String name : live.keySet()) {
                assertArrayEquals(fromDisk.get(name), live.get(name), name);
                moved |= !java.util.Arrays.equals(before.get(name), live.get(name));
            }
            assertTrue(moved, "the optimizer step changed the parameters, and the live read sees it");
        }
    }

    @Test
    void namesThatDoNotCoverTheSessionsParametersAreRefused() throws Exception {
        List<TrainingParameters.Spec> specs = new ArrayList<>(TrainingParameters.specs(Manifest.read(fixture.artifacts.manifest())));
        specs.removeLast();
        try (TrainingSession session = TrainingSession.open(fixture.artifacts.training(), fixture.artifacts.eval(),
                fixture.artifacts.optimizer(), fixture.artifacts.checkpoint(), 1, false)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> TrainingParameters.read(session.ort(), specs));
            assertTrue(e.getMessage().contains("trainable values"), e.getMessage());
            assertFalse(specs.isEmpty());
        }
    }

    /** One DPO train step and optimizer step on a pair made of the fixture's prompt. */
    private static void step(TrainingSession session) throws Exception {
        long[] chosen = {50, 60, 3};
        long[] rejected = {70, 3};
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(fixture.config).collate(List.of(
                new DpoCollator.Pair(fixture.prompt.inputIds(), chosen, rejected, fixture.prompt.image())), DpoLayout.SHARED_PREFIX));
        in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, 0.1f));
        in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {1}, 1f));
        in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {1}, -5f));
        in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {1}, -5f));
        Map<String, OnnxTensor> tensors = OrtTensors.of(session.env(), in);
        try {
            session.ort().lazyResetGrad();
            session.trainStep(tensors);
            session.ort().optimizerStep();
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }
}
