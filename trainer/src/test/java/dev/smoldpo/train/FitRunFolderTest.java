package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.RunFolder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import dev.smoldpo.testing.Captured;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run's folder: one history, resumed or overwritten only when asked; its settings recorded with their sources; eval reuses them. */
class FitRunFolderTest {
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

    private static String[] fitArgs(Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset",
                data.toString(), "--output-dir", out.toString(), "--threads", "1", "--logging-steps", "1",
                "--eval-strategy", "no", "--eval-on-start", "false", "--max-steps", "3"));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    private static List<Long> loggedSteps(Path out) throws Exception {
        List<Long> steps = new ArrayList<>();
        for (MetricsLog.Record r : MetricsLog.read(out.resolve(MetricsLog.FILE_NAME))) {
            if (r.has(MetricsLog.LOSS)) {
                steps.add(r.step());
            }
        }
        return steps;
    }

    @Test
    void aSecondRunIntoTheSameFolderIsRefusedUnlessResumedOrOverwritten() throws Exception {
        Path out = root.resolve("rerun");
        assertEquals(0, Main.run(fitArgs(out)));
        assertEquals(List.of(1L, 2L, 3L), loggedSteps(out));
        String firstMetrics = Files.readString(out.resolve(MetricsLog.FILE_NAME));

        Captured again = Captured.run(() -> Main.run(fitArgs(out)));
        assertEquals(1, again.code());
        assertTrue(again.err().contains("already holds a run (checkpoint-3, metrics.jsonl with 3 records)"), again.err());
        assertTrue(again.err().contains("--resume") && again.err().contains("--overwrite-output-dir"), again.err());
        assertEquals(firstMetrics, Files.readString(out.resolve(MetricsLog.FILE_NAME)), "the refused run changed nothing");

        Captured resumed = Captured.run(() -> Main.run(fitArgs(out, "--resume", "--max-steps", "5")));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("resuming from " + out.resolve("checkpoint-3") + " (step 3 of 5)"), resumed.out());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), loggedSteps(out), "one history, continued");

        Files.createDirectories(out.resolve("checkpoint-99"));  // a stale checkpoint folder an earlier run left
        Files.writeString(out.resolve("notes.txt"), "mine");
        assertEquals(0, Main.run(fitArgs(out, "--overwrite-output-dir")));
        assertEquals(List.of(1L, 2L, 3L), loggedSteps(out), "a fresh history, not appended to the old one");
        assertFalse(Files.exists(out.resolve("checkpoint-5")) || Files.exists(out.resolve("checkpoint-99")),
                "the previous run's checkpoints are gone");
        assertTrue(Files.exists(out.resolve("checkpoint-3")));
        assertEquals("mine", Files.readString(out.resolve("notes.txt")), "files the run did not write are kept");
    }

    @Test
    void aFolderLeftBeforeTheFirstStepIsNoRunButMetricsOfLaterStepsAre() throws Exception {
        // what a run stopped or killed before its first step leaves: its settings and the evaluation before training
        Path early = root.resolve("stopped-early");
        Files.createDirectories(early);
        Files.writeString(early.resolve("train_config.json"), "{}");
        try (MetricsLog log = MetricsLog.create(early)) {
            log.log(0, 0.0, java.util.Map.of(MetricsLog.eval(MetricsLog.LOSS), 0.6931));
        }
        assertEquals(List.of(), RunFolder.previousRun(early));
        assertEquals(0, Main.run(fitArgs(early)), "a plain rerun, without --overwrite-output-dir");
        assertEquals(List.of(1L, 2L, 3L), loggedSteps(early));

        // killed after logging step 2, before any checkpoint: a history, but nothing to resume from
        Path killed = root.resolve("killed-before-a-checkpoint");
        try (MetricsLog log = MetricsLog.create(killed)) {
            log.log(0, 0.0, java.util.Map.of(MetricsLog.eval(MetricsLog.LOSS), 0.6931));
            log.log(2, 0.1, java.util.Map.of(MetricsLog.LOSS, 0.69));
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunFolder.open(killed, false, false));
        assertTrue(e.getMessage().contains("already holds a run (metrics.jsonl with 2 records): it has no checkpoint to "
                + "resume from: pass --overwrite-output-dir to start over"), e.getMessage());
        assertFalse(e.getMessage().contains("--resume"), e.getMessage());
    }

    @Test
    void aResumeWithOtherSettingsNamesTheKeysThatDifferFromTheCheckpoints() throws Exception {
        Path out = root.resolve("changed");
        assertEquals(0, Main.run(fitArgs(out, "--max-steps", "2", "--beta", "0.1")));
        assertTrue(Files.isRegularFile(out.resolve("checkpoint-2").resolve("train_config.json")), "saved with its settings");
        String warning = "; warning: the training config differs from the checkpoint's: ";

        Captured first = Captured.run(() -> Main.run(fitArgs(out, "--resume", "--max-steps", "3", "--beta", "0.2",
                "--logging-steps", "2")));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("(step 2 of 3)" + warning + "beta 0.1 -> 0.2, max_steps 2 -> 3\n"),
                "the trained keys that differ, not logging_steps: " + first.out());

        // checkpoint-3 was trained with beta 0.2: only max_steps differs from it now
        Captured second = Captured.run(() -> Main.run(fitArgs(out, "--resume", "--max-steps", "4", "--beta", "0.2")));
        assertTrue(second.out().contains("(step 3 of 4)" + warning + "max_steps 3 -> 4\n"), second.out());

        // a checkpoint from before the settings were saved with it: the run folder's, which are its own
        Files.delete(out.resolve("checkpoint-4").resolve("train_config.json"));
        Captured older = Captured.run(() -> Main.run(fitArgs(out, "--resume", "--max-steps", "5", "--beta", "0.2")));
        assertTrue(older.out().contains("(step 4 of 5)" + warning + "max_steps 4 -> 5\n"), older.out());

        // ... unless the folder's settings are not the checkpoint's either
        Files.delete(out.resolve("checkpoint-5").resolve("train_config.json"));
        Files.writeString(out.resolve("train_config.json"), "{\"beta\": 0.3}");
        Captured unknown = Captured.run(() -> Main.run(fitArgs(out, "--resume", "--max-steps", "6", "--beta", "0.2")));
        assertEquals(0, unknown.code(), unknown.err());
        assertTrue(unknown.out().contains("(step 5 of 6); warning: the training config differs from the checkpoint's "
                + "(which predates saving its settings with it, so the keys cannot be named"), unknown.out());
    }

    @Test
    void aFolderInUseByAnotherRunIsRefused() throws Exception {
        Path out = root.resolve("busy");
        try (RunFolder held = RunFolder.open(out, false, false)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunFolder.open(out, false, false));
            assertTrue(e.getMessage().contains("is in use by another fit"), e.getMessage());
            Captured run = Captured.run(() -> Main.run(fitArgs(out)));
            assertEquals(1, run.code());
            assertTrue(run.err().contains("is in use by another fit"), run.err());
        }
        assertEquals(0, Main.run(fitArgs(out)), "free again once the first run let go");
    }

    @Test
    void trainConfigJsonRecordsEachValueAndWhereItCameFrom() throws Exception {
        Path out = root.resolve("sources");
        Path config = root.resolve("run.yaml");
        Files.writeString(config, "learning_rate: 1.0e-4\nreport_to: wandb\n");
        Captured run = Captured.run(() -> Main.run(fitArgs(out, "--config", config.toString(), "--beta", "0.2")));
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("warning: config file " + config + ": 'report_to' has no effect here"), run.out());
        JsonNode saved = new ObjectMapper().readTree(out.resolve("train_config.json").toFile());
        JsonNode sources = saved.get("_sources");
        assertEquals(1e-4, saved.get("learning_rate").asDouble());
        assertEquals("config file " + config, sources.get("learning_rate").asText());
        assertEquals(0.2, saved.get("beta").asDouble());
        assertEquals("command line (--beta)", sources.get("beta").asText());
        assertEquals("demo recipe", sources.get("max_length").asText());
        assertEquals("default", sources.get("seed").asText());
        assertEquals(8, saved.get("lora_r").asInt());
        assertTrue(sources.get("lora_r").asText().startsWith("artifacts "), sources.toString());
        assertEquals(TrainConfig.keys().size(), saved.size() - 1, "every key, plus _sources");
        TrainConfig back = TrainConfig.load(out.resolve("train_config.json"));
        assertEquals(1e-4, back.learningRate());
        assertEquals(0.2, back.beta());
    }

    @Test
    void aBareResumeContinuesWithTheRunsOwnSettingsAndData() throws Exception {
        Path out = root.resolve("bare-resume");
        assertEquals(0, Main.run(fitArgs(out, "--learning-rate", "1e-3", "--beta", "0.25", "--save-steps", "3")));
        // only the folder, the wish to resume, and a longer run: no dataset, no artifacts, no --demo
        Captured resumed = Captured.run(() -> Main.run("fit", "--resume", "--output-dir", out.toString(), "--max-steps", "5"));
        assertEquals(0, resumed.code(), resumed.err());
        Path runConfig = out.toAbsolutePath().resolve("train_config.json");
        Path checkpointConfig = out.toAbsolutePath().resolve("checkpoint-3").resolve("train_config.json");
        assertTrue(resumed.out().contains("resuming with the settings of " + checkpointConfig), resumed.out());
        assertFalse(resumed.out().contains("generated the demo preference set"), resumed.out());
        assertFalse(Files.exists(out.resolve("demo_dataset.parquet")), "the run's own data, not the demo's");
        JsonNode saved = new ObjectMapper().readTree(runConfig.toFile());
        assertEquals(data.toAbsolutePath().toString(), saved.get("dataset").asText());
        assertEquals(1e-3, saved.get("learning_rate").asDouble());
        assertEquals(0.25, saved.get("beta").asDouble());
        assertEquals(5, saved.get("max_steps").asInt());
        assertEquals("command line (--max-steps)", saved.get("_sources").get("max_steps").asText());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), loggedSteps(out));
    }

    @Test
    void aFlagWithoutAValueIsAnErrorUnlessItIsBoolean() throws Exception {
        Path out = root.resolve("no-value");
        Captured run = Captured.run(() -> Main.run("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset",
                data.toString(), "--output-dir", "--max-steps", "1"));
        assertEquals(1, run.code());
        assertTrue(run.err().contains("command line (--output-dir): --output-dir needs a value (Path)"), run.err());
        assertFalse(Files.exists(Path.of("true")), "no folder named after the word true");
        // a boolean flag alone still means true
        assertEquals(0, Main.run(fitArgs(out, "--logging-first-step")));
        assertTrue(new ObjectMapper().readTree(out.resolve("train_config.json").toFile()).get("logging_first_step").asBoolean());
    }

    @Test
    void evalOfARunsCheckpointUsesTheRunsSettingsWithoutAnyFlag() throws Exception {
        Path out = root.resolve("evaluated");
        assertEquals(0, Main.run(fitArgs(out, "--eval-strategy", "steps", "--eval-steps", "3", "--test-size", "16")));
        JsonNode last = new ObjectMapper().readTree(out.resolve("summary.json").toFile()).get("last_eval");
        assertNotNull(last);
        Captured eval = Captured.run(() -> Main.run("eval", "--checkpoint", out.resolve("checkpoint-3").toString()));
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("settings: the run's " + out.toAbsolutePath().resolve("checkpoint-3").resolve("train_config.json")),
                eval.out());
        for (String key : List.of("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins")) {
            String line = eval.out().lines().filter(l -> l.strip().startsWith(key + " ")).findFirst().orElseThrow();
            assertEquals(String.format(Locale.ROOT, "%.6f", last.get(key).asDouble()), line.strip().split("\\s+")[1], key);
        }
        // a mistyped step of a real run: the run's checkpoints, not "no dataset" (the run folder was not found)
        Captured typo = Captured.run(() -> Main.run("eval", "--checkpoint", out.resolve("checkpoint-2").toString()));
        assertEquals(1, typo.code());
        assertEquals("error: checkpoint " + out.resolve("checkpoint-2") + " does not exist; " + out + " has checkpoint-3",
                typo.err().strip());
        // nothing to score is an error, not a header and exit code 0
        Captured none = Captured.run(() -> Main.run("eval", "--checkpoint", out.resolve("checkpoint-3").toString(),
                "--max-length", "8", "--max-prompt-length", "4"));
        assertEquals(1, none.code());
        assertTrue(none.err().contains("no pair of the test split (16 rows) could be evaluated"), none.err());
    }

    @Test
    void aRelativeEvalDatasetIsRecordedAbsoluteAndEvalNamesTheFileItScored() throws Exception {
        Path out = root.resolve("eval-dataset");
        Path evalFile = DemoDataset.write(root.resolve("held-out.parquet"), 8, 11, false);
        // as typed from the working folder: relative
        String relative = Path.of("").toAbsolutePath().relativize(evalFile.toAbsolutePath()).toString();
        assertFalse(Path.of(relative).isAbsolute());
        Captured fit = Captured.run(() -> Main.run(fitArgs(out, "--eval-dataset", relative)));
        assertEquals(0, fit.code(), fit.err());
        JsonNode saved = new ObjectMapper().readTree(out.resolve("train_config.json").toFile());
        assertEquals(evalFile.toAbsolutePath().normalize().toString(), saved.get("eval_dataset").asText());
        assertEquals(data.toAbsolutePath().toString(), saved.get("dataset").asText());
        Captured eval = Captured.run(() -> Main.run("eval", "--checkpoint", out.resolve("checkpoint-3").toString()));
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("split test of " + evalFile.toAbsolutePath().normalize() + ", checkpoint "), eval.out());
        Captured train = Captured.run(() -> Main.run("eval", "--checkpoint", out.resolve("checkpoint-3").toString(), "--split", "train"));
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("split train of " + data.toAbsolutePath().normalize() + ", checkpoint "), train.out());
    }
}
