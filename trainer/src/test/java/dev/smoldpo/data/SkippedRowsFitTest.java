package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import dev.smoldpo.train.support.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pairs found unusable only while training (an image that does not decode) make their step smaller;
 * the run still takes every planned step and ends with its checkpoint, metrics and summary.
 */
class SkippedRowsFitTest {
    @TempDir
    static Path dir;
    static Path parquet;
    static Path artifacts;

    @BeforeAll
    static void setUp() throws Exception {
        List<DataFixtures.RlhfvRow> rows = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            rows.add(DataFixtures.RlhfvRow.of(i, "Describe the picture " + i + ".", "A gradient, number " + i + ".",
                    "A cat on a mat.", DataFixtures.image(24 + i, 20, i % 2 == 0 ? "jpeg" : "png", i)));
        }
        for (int i = 0; i < 4; i++) {
            rows.add(DataFixtures.RlhfvRow.of(100 + i, "What is it?", "A cat.", "A dog.", new byte[] {1, 2, 3, (byte) i}));
        }
        parquet = DataFixtures.writeRlhfv(dir.resolve("RLHF-V-Dataset.parquet"), rows);
        artifacts = dir.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
    }

    private static int fit(Path out, String batch) {
        return Main.run("fit", "--artifacts", artifacts.toString(), "--dataset", parquet.toString(), "--output-dir",
                out.toString(), "--num-train-epochs", "1", "--per-device-train-batch-size", batch,
                "--gradient-accumulation-steps", "1", "--image-longest-edge", "32", "--test-size", "0", "--threads", "1",
                "--learning-rate", "1e-3");
    }

    @Test
    void aRunWithRowsSkippedDuringTrainingEndsWithItsResults() throws Exception {
        Path out = dir.resolve("batch4");
        assertEquals(0, fit(out, "4"));
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals(5, summary.get("steps").asInt(), "ceil(20 rows / 4): the planned steps, whatever the rows hold");
        assertEquals("completed", summary.get("ending").asText());
        assertEquals(4, summary.get("skipped").get("counts").get("undecodable_image").asInt());
        assertEquals(20, summary.get("pairs_trained").asInt(), "every row was taken once");
        assertTrue(Files.isDirectory(out.resolve("checkpoint-5")), "the final checkpoint");
        List<MetricsLog.Record> records = MetricsLog.read(out.resolve(MetricsLog.FILE_NAME));
        assertEquals(5, records.get(records.size() - 1).step(), "the last step is logged");
        assertTrue(Files.isRegularFile(out.resolve("loss.png")));
    }

    @Test
    void aStepWhosePairsAreAllUnusableIsCountedAndTheRunGoesOn() throws Exception {
        Path out = dir.resolve("batch1");
        assertEquals(0, fit(out, "1"));
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals(20, summary.get("steps").asInt());
        assertEquals(4, summary.get("skipped").get("empty_steps").asInt(), summary.toString());
        assertTrue(Files.isDirectory(out.resolve("checkpoint-20")));
    }
}
