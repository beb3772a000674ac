package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.testing.Captured;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.RunCheckpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fit on pairs its settings cannot use: each step without a usable pair says why, with the limit and the
 * setting to change; a run that never makes an update fails and saves nothing; a run that trains and
 * meets such steps later only counts them.
 */
class UnusablePairsFitTest {
    @TempDir
    static Path root;
    static Path artifacts;
    static Path data;

    @BeforeAll
    static void setUp() throws Exception {
        artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        data = DemoDataset.write(root.resolve("demo.parquet"), 64, 3, false);
    }

    /**
     * The demo recipe (8 pairs a step) with limits no demo prompt fits: 21 tokens, 4 of them image
     * tokens that a cut to max_prompt_length 8 would split.
     */
    private static Captured fitTooShort(Path out, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset",
                data.toString(), "--output-dir", out.toString(), "--threads", "1", "--logging-steps", "1",
                "--eval-strategy", "no", "--eval-on-start", "false", "--max-steps", "30", "--test-size", "8",
                "--max-length", "16", "--max-prompt-length", "8"));
        args.addAll(List.of(extra));
        return Captured.run(() -> Main.run(args.toArray(String[]::new)));
    }

    private static List<Path> checkpoints(Path out) {
        return new RunCheckpoints(out, null).list();
    }

    @Test
    void aRunWhosePairsAreAllTooLongStopsWithTheReasonAndTheFixAndSavesNothing() throws Exception {
        Path out = root.resolve("too-long");
        Captured run = fitTooShort(out, "--max-empty-steps", "3", "--eval-on-start", "true");
        assertEquals(1, run.code(), run.out());
        String why = "prompt_too_long (row ";
        String limits = "the prompt is 21 tokens, 4 of them image tokens (image_longest_edge 32); with the answers that "
                + "exceeds max_length 16, and cutting the prompt to max_prompt_length 8 would cut image tokens; raise "
                + "max_prompt_length and max_length above the prompt's length, or lower image_longest_edge";
        assertTrue(run.out().contains("step 0: no evaluation, none of the 8 held-out pairs was usable: 8 pairs " + why),
                run.out());
        assertTrue(run.out().contains(limits), run.out());
        assertTrue(run.out().contains("step 1: every pair was unusable, no update: 8 pairs prompt_too_long (as above)"),
                "told once in full, then counted: " + run.out());
        assertTrue(run.out().contains("step 3: every pair was unusable"), run.out());
        assertFalse(run.out().contains("step 4:"), "stopped after max_empty_steps: " + run.out());
        assertTrue(run.err().contains("error: 3 optimizer steps in a row had no usable pair before any update "
                + "(max_empty_steps 3): 24 pairs " + why), run.err());
        assertTrue(run.err().contains(limits) && run.err().strip().endsWith("; nothing is saved"), run.err());
        assertEquals(List.of(), checkpoints(out), "untrained adapters are no result");
        assertTrue(MetricsLog.read(out.resolve(MetricsLog.FILE_NAME)).isEmpty(), "no empty evaluation record");
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals("no_update", summary.get("ending").asText());
        assertEquals(3, summary.get("skipped").get("empty_steps").asLong());
    }

    @Test
    void aRunShorterThanMaxEmptyStepsThatNeverUpdatesFailsToo() throws Exception {
        Path out = root.resolve("short");
        Captured run = fitTooShort(out, "--max-steps", "2");
        assertEquals(1, run.code(), run.out());
        assertTrue(run.err().contains("the run made no update in its 2 optimizer steps (2 without a usable pair, 0 with a "
                + "non-finite loss): 16 pairs prompt_too_long (row "), run.err());
        assertEquals(List.of(), checkpoints(out));
    }

    /** 48 demo pairs as JSONL, two rows in three with bytes that are not an image. */
    private static Path mixedData() throws Exception {
        Path mixed = root.resolve("mixed.jsonl");
        if (Files.exists(mixed)) {
            return mixed;
        }
        ObjectMapper json = new ObjectMapper();
        StringBuilder lines = new StringBuilder();
        List<DemoDataset.Pair> pairs = DemoDataset.generate(48, 5, false);
        for (int i = 0; i < pairs.size(); i++) {
            DemoDataset.Pair p = pairs.get(i);
            byte[] image = i % 3 != 0 ? "not an image".getBytes(StandardCharsets.UTF_8) : p.png();
            ObjectNode line = json.createObjectNode().put("prompt", p.question()).put("chosen", p.chosen())
                    .put("rejected", p.rejected()).put("image_base64", Base64.getEncoder().encodeToString(image));
            lines.append(json.writeValueAsString(line)).append('\n');
        }
        return Files.writeString(mixed, lines);
    }

    @Test
    void anEvaluationThatLeavesHeldOutPairsOutSaysHowManyAndWhy() throws Exception {
        Path out = root.resolve("held-out");
        Captured run = Captured.run(() -> Main.run("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset",
                mixedData().toString(), "--output-dir", out.toString(), "--threads", "1", "--eval-strategy", "steps",
                "--eval-steps", "2", "--eval-on-start", "false", "--max-steps", "2", "--test-size", "8"));
        assertEquals(0, run.code(), run.err() + run.out());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("step 2: evaluated (\\d) of the 8 held-out pairs; "
                + "unusable: (\\d) pairs? undecodable_image").matcher(run.out());
        assertTrue(m.find(), run.out());
        assertEquals(8, Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2)), m.group());
    }

    @Test
    void stepsWithoutAUsablePairAfterAnUpdateAreOnlyCounted() throws Exception {
        // one pair a step; two rows in three have bytes that are not an image
        Path mixed = mixedData();
        ObjectMapper json = new ObjectMapper();
        Path out = root.resolve("mixed");
        // data seed 35 orders the rows so that steps 1-2 train and steps 3-10 meet only broken images
        Captured run = Captured.run(() -> Main.run("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset",
                mixed.toString(), "--output-dir", out.toString(), "--threads", "1", "--eval-strategy", "no",
                "--eval-on-start", "false", "--max-steps", "24", "--test-size", "0", "--per-device-train-batch-size", "1",
                "--max-empty-steps", "3", "--data-seed", "35"));
        assertEquals(0, run.code(), run.err() + run.out());
        assertFalse(run.out().contains("step 1: every") || run.out().contains("step 2: every"), run.out());
        assertTrue(run.out().contains("step 3: every pair was unusable, no update: 1 pair undecodable_image (row "), run.out());
        assertTrue(run.out().contains("fix or remove these rows' images"), run.out());
        assertTrue(run.out().contains("step 10: every pair was unusable, no update: 1 pair undecodable_image (as above)"),
                "8 such steps in a row after an update do not stop the run: " + run.out());
        JsonNode summary = json.readTree(out.resolve("summary.json").toFile());
        assertEquals("completed", summary.get("ending").asText());
        assertEquals(14, summary.get("skipped").get("empty_steps").asLong(), summary.toString());
        assertTrue(Files.isDirectory(out.resolve("checkpoint-24")));
    }
}
