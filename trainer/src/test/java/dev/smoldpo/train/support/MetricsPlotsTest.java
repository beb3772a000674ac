package dev.smoldpo.train.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsPlotsTest {
    @TempDir
    Path out;

    @Test
    void writesTheThreePlotsFromMetricsJsonl() throws IOException {
        try (MetricsLog log = MetricsLog.open(out)) {
            for (int step = 1; step <= 60; step++) {
                double t = step / 60.0;
                log.log(step, t * 3, MetricsLogTest.train(0.693 - 0.2 * t + 0.02 * Math.sin(step),
                        0.45 + 0.3 * t, 0.01 + 0.2 * t));
                if (step % 20 == 0) {
                    log.log(step, t * 3, Map.of("eval_loss", 0.69 - 0.1 * t, "eval_rewards/accuracies", 0.5 + 0.125 * t,
                            "eval_rewards/margins", 0.1 * t));
                }
            }
            log.log(61, 3.05, Map.of("loss", Double.NaN)); // a skipped step: left out of the curve
        }
        List<Path> written = MetricsPlots.write(out);
        assertEquals(List.of(out.resolve("loss.png"), out.resolve("rewards_accuracies.png"),
                out.resolve("rewards_margins.png")), written);
        for (Path p : written) {
            assertTrue(Files.size(p) > 1000, p + " is suspiciously small");
            BufferedImage image = ImageIO.read(p.toFile());
            assertNotNull(image, p + " does not decode as PNG");
            assertEquals(MetricsPlots.WIDTH, image.getWidth());
            assertEquals(MetricsPlots.HEIGHT, image.getHeight());
        }
        assertTrue(Boolean.parseBoolean(System.getProperty("java.awt.headless")));
    }

    @Test
    void trainOnlySinglePointAndMissingMetrics() throws IOException {
        List<MetricsLog.Record> records = List.of(new MetricsLog.Record(Map.of("step", 1L, "loss", 0.69)));
        List<Path> written = MetricsPlots.write(out, records);
        assertEquals(List.of(out.resolve("loss.png")), written);
        assertNotNull(ImageIO.read(out.resolve("loss.png").toFile()));
        assertFalse(Files.exists(out.resolve("rewards_margins.png")));
        assertEquals(List.of(), MetricsPlots.write(out.resolve("empty"), List.of()));
    }

    @Test
    void aPlotThatCannotBeWrittenWarnsInsteadOfEndingTheRun() throws IOException {
        try (MetricsLog log = MetricsLog.open(out)) {
            log.log(1, 0.1, MetricsLogTest.train(0.69, 0.5, 0.01));
        }
        Files.createDirectories(out.resolve("loss.png").resolve("occupied")); // a non-empty folder where the plot goes
        java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
        MetricsPlots.writeOrWarn(out, new java.io.PrintStream(text, true));
        assertTrue(text.toString().startsWith("warning: plots not written"), text.toString());
        assertTrue(text.toString().contains("metrics.jsonl has every figure"), text.toString());
    }
}
