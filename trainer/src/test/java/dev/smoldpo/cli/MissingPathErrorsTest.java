package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.testing.Captured;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Paths that do not exist get "no such file" / "does not exist" at once, naming the path: a local-looking
 * dataset is not sent to the hub, and a mistyped checkpoint step lists the run's real checkpoints instead of
 * failing later on a missing dataset or in ONNX Runtime.
 */
class MissingPathErrorsTest {
    @TempDir
    Path tmp;

    private Captured fit(String dataset) throws Exception {
        // --artifacts names an empty folder: reaching the (demo) export would mean the dataset was checked too late
        return Captured.run(() -> Main.run("fit", "--demo", "--dataset", dataset, "--artifacts", tmp.resolve("artifacts").toString(),
                "--output-dir", tmp.resolve("run").toString()));
    }

    @Test
    void aMissingLocalLookingDatasetIsNoSuchFileNotAHubDownload() throws Exception {
        Captured c = fit("ds/nonexist.jsonl");
        assertEquals(1, c.code(), c.out());
        assertEquals("error: no such file: " + Path.of("ds/nonexist.jsonl").toAbsolutePath()
                + "; to download the hub dataset ds/nonexist.jsonl instead, pass --dataset hf://datasets/ds/nonexist.jsonl",
                c.err().strip());
        assertFalse(c.out().contains("hub") || c.out().contains("export"), c.out());
        assertFalse(Files.exists(tmp.resolve("artifacts")) || Files.exists(tmp.resolve("run")), "nothing was made");

        for (String local : List.of("./nonexist", "../nonexist/data", tmp.resolve("none.parquet").toString(), "a/b/c", "data.csv")) {
            c = fit(local);
            assertEquals("error: no such file: " + Path.of(local).toAbsolutePath().normalize(), c.err().strip(), local);
        }
        c = fit("~/pairs.jsonl");
        assertTrue(c.err().contains("no such file: ") && c.err().contains("a ~ inside quotes or a config file is not expanded"), c.err());
    }

    @Test
    void hubIdsStillGoToTheHubAndHfDatasetsForcesIt() {
        assertEquals(new DatasetSource(null, "openbmb/RLHF-V-Dataset"), DatasetSource.of(Path.of("openbmb/RLHF-V-Dataset")));
        assertEquals(new DatasetSource(null, "HuggingFaceH4/rlaif-v_formatted"),
                DatasetSource.of(Path.of("HuggingFaceH4/rlaif-v_formatted")));
        // a Path folds hf://'s double slash; both spellings force the hub, even for a name with a file's extension
        assertEquals(new DatasetSource(null, "ds/nonexist.jsonl"), DatasetSource.of(Path.of("hf://datasets/ds/nonexist.jsonl")));
        assertEquals("ds/nonexist.jsonl", DatasetSource.of(Path.of("hf:/datasets/ds/nonexist.jsonl")).hubId());
        // owner/name whose owner is a local folder (the tests run in trainer/, which has src/) is a local typo
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DatasetSource.of(Path.of("src/nonexist")));
        assertTrue(e.getMessage().startsWith("no such file: " + Path.of("src/nonexist").toAbsolutePath()), e.getMessage());
        assertTrue(e.getMessage().endsWith("pass --dataset hf://datasets/src/nonexist"), e.getMessage());
        assertTrue(DatasetSource.of(tmp).isLocal(), "an existing folder is local");
    }

    /** A run folder as fit leaves it, as far as listing its checkpoints goes: train_config.json, checkpoint-N/trainer_state.json. */
    private Path run(String name, int... steps) throws Exception {
        Path run = Files.createDirectories(tmp.resolve(name));
        Files.writeString(run.resolve("train_config.json"), "{}");
        for (int step : steps) {
            Files.writeString(Files.createDirectories(run.resolve("checkpoint-" + step)).resolve("trainer_state.json"), "{}");
        }
        return run;
    }

    @Test
    void aMistypedCheckpointListsTheRunsCheckpoints() throws Exception {
        Path run = run("demo", 80, 40, 120);
        Files.createDirectories(run.resolve("checkpoint-7")); // no trainer_state.json: not a checkpoint
        Path typo = run.resolve("checkpoint-39");
        String expected = "error: checkpoint " + typo + " does not exist; " + run + " has checkpoint-40, checkpoint-80, checkpoint-120";
        Captured c = Captured.run(() -> Main.run("eval", "--checkpoint", typo.toString()));
        assertEquals(1, c.code());
        assertEquals(expected, c.err().strip());
        // with a dataset and the demo recipe this used to reach ONNX Runtime ("Invalid fd was supplied: -1")
        c = Captured.run(() -> Main.run("eval", "--checkpoint", typo.toString(), "--demo", "--dataset",
                tmp.resolve("pairs.jsonl").toString(), "--artifacts", tmp.resolve("artifacts").toString()));
        assertEquals(expected, c.err().strip());
        assertEquals("", c.out());

        // the ORT file inside a missing checkpoint folder: the run folder two levels up
        Path file = typo.resolve("ort_checkpoint");
        c = Captured.run(() -> Main.run("eval", "--checkpoint", file.toString()));
        assertEquals("error: checkpoint " + file + " does not exist; " + run + " has checkpoint-40, checkpoint-80, checkpoint-120",
                c.err().strip());

        Path empty = run("fresh");
        c = Captured.run(() -> Main.run("eval", "--checkpoint", empty.resolve("checkpoint-1").toString()));
        assertEquals("error: checkpoint " + empty.resolve("checkpoint-1") + " does not exist; the run folder " + empty
                + " has no checkpoint-<step> folder yet", c.err().strip());

        Path elsewhere = tmp.resolve("nowhere/checkpoint-3");
        c = Captured.run(() -> Main.run("eval", "--checkpoint", elsewhere.toString()));
        assertEquals("error: checkpoint " + elsewhere + " does not exist", c.err().strip());
    }
}
