package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A parquet file with RLHF-V's exact schema (real JPEG and PNG bytes of varied sizes, the text JSON)
 * trains for a few steps; its corrupted rows are skipped and reported, never a crash.
 */
class RlhfvFitTest {
    @TempDir
    Path dir;

    @Test
    void rlhfvParquetTrainsAndCorruptRowsAreSkippedAndCounted() throws Exception {
        List<DataFixtures.RlhfvRow> rows = new ArrayList<>();
        int[][] sizes = {{40, 30}, {100, 64}, {17, 90}, {64, 64}, {33, 21}, {128, 40}};
        for (int i = 0; i < 24; i++) {
            int[] s = sizes[i % sizes.length];
            byte[] image = DataFixtures.image(s[0], s[1], i % 2 == 0 ? "jpeg" : "png", i);
            rows.add(DataFixtures.RlhfvRow.of(i, "Describe the picture " + i + ".",
                    "It shows a gradient with noise, number " + i + ".", "It shows a cat sitting on a mat.", image));
        }
        byte[] ok = DataFixtures.image(20, 20, "png", 99);
        rows.add(new DataFixtures.RlhfvRow(100, "{\"question\": \"broken", ok, true));                 // bad JSON
        rows.add(DataFixtures.RlhfvRow.of(101, "What is it?", "", "A dog.", ok));                      // empty answer
        rows.add(DataFixtures.RlhfvRow.of(102, "What is it?", "A dog.", " A dog. ", ok));              // identical answers
        rows.add(new DataFixtures.RlhfvRow(103, DataFixtures.json("What is it?", "A cat.", "A dog."), null, false)); // no image
        rows.add(DataFixtures.RlhfvRow.of(104, "What is it?", "A cat.", "A dog.", new byte[] {1, 2, 3, 4}));  // undecodable
        Path parquet = DataFixtures.writeRlhfv(dir.resolve("RLHF-V-Dataset.parquet"), rows);

        Path artifacts = dir.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        Path out = dir.resolve("run");
        assertEquals(0, Main.run("fit", "--artifacts", artifacts.toString(), "--dataset", parquet.toString(),
                "--output-dir", out.toString(), "--max-steps", "3", "--per-device-train-batch-size", "4",
                "--gradient-accumulation-steps", "1", "--image-longest-edge", "64", "--test-size", "0.25",
                "--learning-rate", "1e-3", "--threads", "1", "--logging-steps", "1", "--eval-strategy", "steps", "--eval-steps", "3"));
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        JsonNode counts = summary.get("skipped").get("counts");
        assertEquals(3, summary.get("steps").asInt());
        assertEquals(1, counts.get("bad_json").asInt(), counts.toString());
        assertEquals(1, counts.get("empty_chosen").asInt(), counts.toString());
        assertEquals(1, counts.get("identical_answers").asInt(), counts.toString());
        assertEquals(1, counts.get("missing_image").asInt(), counts.toString());
        // the undecodable image is found when its pair is first encoded (training or evaluation)
        assertEquals(1, counts.get("undecodable_image").asInt(), counts.toString());
        assertEquals(5, summary.get("skipped").get("total").asInt(), counts.toString());
    }
}
