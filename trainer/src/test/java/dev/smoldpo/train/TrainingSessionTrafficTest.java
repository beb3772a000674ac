package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.model.toy.ToyTask;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bytes a session's steps feed and fetch, and the check that the graphs output only what training reads. */
class TrainingSessionTrafficTest {
    private static final ToyLoraMlp MODEL = ToyLoraMlp.standard();
    private static final ToyTask TASK = new ToyTask(MODEL, 5);

    @TempDir
    Path dir;

    private static Map<String, OnnxTensor> feed(TrainingSession s, ToyTask.Batch b) throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>();
        in.put(ToyLoraMlp.INPUT, s.floats(b.x(), b.size(), MODEL.dims().in()));
        in.put(ToyLoraMlp.TARGET, s.floats(b.target(), b.size(), MODEL.dims().out()));
        return in;
    }

    @Test
    void everyFedAndFetchedByteIsCountedByKindOfStep() throws Exception {
        ArtifactFiles files = ArtifactBuilder.build(MODEL, AdamWConfig.DEFAULT, dir.resolve("toy"), "toy", Map.of());
        int in = MODEL.dims().in(), out = MODEL.dims().out();
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1)) {
            for (int n : new int[] {32, 7}) {
                Map<String, OnnxTensor> f = feed(s, TASK.batch(n, n));
                try {
                    s.ort().lazyResetGrad();
                    s.trainStep(f);
                } finally {
                    f.values().forEach(OnnxTensor::close);
                }
            }
            Map<String, OnnxTensor> f = feed(s, TASK.batch(10, 1));
            try {
                s.evalStep(f);
            } finally {
                f.values().forEach(OnnxTensor::close);
            }
            // fed: x [n, in] and target [n, out] floats; fetched: loss, per_example_loss [n], prediction [n, out]
            long trainIn = 4L * (32 + 7) * (in + out), trainOut = 4L * (2 + (32 + 7) * (1 + out));
            assertEquals(new HostDeviceTraffic.Totals(2, trainIn, trainOut), s.traffic().train());
            assertEquals(new HostDeviceTraffic.Totals(1, 4L * 10 * (in + out), 4L * (1 + 10 * (1 + out))), s.traffic().eval());
            Map<String, Object> m = s.traffic().toMap(2);
            assertEquals((trainIn + trainOut) / 2, m.get("per_optimizer_step"));
            assertEquals(0L, s.traffic().perOptimizerStep(0));
        }
    }

    @Test
    void anOutputTrainingDoesNotReadIsAnError() throws Exception {
        ArtifactFiles files = ArtifactBuilder.build(MODEL, AdamWConfig.DEFAULT, dir.resolve("toy"), "toy", Map.of());
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1)) {
            s.requireOnlyOutputs(Set.of("loss", ToyLoraMlp.PER_EXAMPLE_LOSS, ToyLoraMlp.PREDICTION));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> s.requireOnlyOutputs(Set.of("loss", ToyLoraMlp.PER_EXAMPLE_LOSS)));
            assertTrue(e.getMessage().contains("'" + ToyLoraMlp.PREDICTION + "'"), e.getMessage());
        }
    }
}
