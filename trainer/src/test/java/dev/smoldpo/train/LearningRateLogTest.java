package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.train.support.MetricsLog;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fit logs {@code learning_rate} as HF Trainer does (transformers ≥ 4.51, PR #36973): the rate the
 * update just made used, read before the scheduler steps. With warmup the first logged value is
 * therefore 0 (HF ≤ 4.50 logged the next update's rate, here 5e-4).
 */
class LearningRateLogTest {
    @TempDir
    Path root;

    @Test
    void warmupRunLogsTheRateOfEachUpdateStartingAtZero() throws Exception {
        Path artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        Path data = DemoDataset.write(root.resolve("demo.parquet"), 16, 3, false);
        Path out = root.resolve("run");
        assertEquals(0, Main.run("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset", data.toString(),
                "--output-dir", out.toString(), "--threads", "1", "--logging-steps", "1", "--eval-strategy", "no",
                "--eval-on-start", "false", "--max-steps", "4", "--warmup-steps", "2", "--warmup-ratio", "0",
                "--lr-scheduler-type", "linear", "--learning-rate", "1e-3", "--per-device-train-batch-size", "1",
                "--gradient-accumulation-steps", "1"));
        List<Double> logged = new ArrayList<>();
        for (MetricsLog.Record r : MetricsLog.read(out.resolve(MetricsLog.FILE_NAME))) {
            if (r.has(MetricsLog.LEARNING_RATE)) {
                logged.add(((Number) r.values().get(MetricsLog.LEARNING_RATE)).doubleValue());
            }
        }
        // linear with 2 warmup steps of 4: lambda(s) = s / 2 for s < 2, then (4 - s) / 2
        List<Double> expected = List.of(0.0, 5e-4, 1e-3, 5e-4);
        assertEquals(expected.size(), logged.size(), "one record per step: " + logged);
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i), logged.get(i), 1e-12, "learning_rate logged at step " + (i + 1));
        }
    }
}
