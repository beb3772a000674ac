package dev.smoldpo.train.support;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCheckpointsTest {
    @TempDir
    Path out;

    private static RunState state(long step) {
        return RunState.initial(0x7FFF_FFFF_FFFF_FFF1L, 1000, "abc123")
                .afterStep(step, step / 100.0, step / 100, step % 100 * 8, step, step * 8, step * 2000, step * 1.5)
                .withRngState("dropout", -0x0123_4567_89AB_CDEFL)
                .withRngState("shuffle", Long.MIN_VALUE)
                .withSkipped("nonfinite_steps", 2)
                .withSkipped("pairs_too_long", 5);
    }

    private static RunCheckpoints.OrtCheckpointWriter ortWriter(float value) {
        return path -> CheckpointWriter.write(Checkpoint.of(
                List.of(CheckpointTensor.ofFloats("lora_A", new long[] {2}, value, -value)), List.of()), path);
    }

    @Test
    void stateRoundTripKeepsFull64BitValues() throws IOException {
        RunState s = state(1234).withBest(Map.of("eval_loss", 0.5, "eval_rewards/accuracies", Double.NaN), 1200);
        Path file = out.resolve("trainer_state.json");
        Files.writeString(file, RunCheckpoints.stateJson(s));
        RunState back = RunCheckpoints.readState(file);
        assertEquals(s, back);
        assertEquals(-0x0123_4567_89AB_CDEFL, back.rngStates().get("dropout"));
        assertEquals(0x7FFF_FFFF_FFFF_FFF1L, back.dataSeed());
        assertEquals(7, back.skipped("nonfinite_steps") + back.skipped("pairs_too_long"));
        assertEquals(0, back.skipped("other"));
        String json = Files.readString(file);
        assertTrue(json.contains("\"format\" : \"smoldpo.trainer_state.v1\""), json);
        assertTrue(json.contains("\"global_step\" : 1234"), json);
        assertTrue(json.contains("\"rng_states\""), json);
    }

    @Test
    void saveWritesBothFilesAndLoadReadsThemBack() throws IOException {
        RunCheckpoints ckpts = new RunCheckpoints(out, null);
        Path dir = ckpts.save(10, state(10), ortWriter(1.5f));
        assertEquals(out.resolve("checkpoint-10"), dir);
        assertTrue(Files.isRegularFile(dir.resolve("trainer_state.json")));
        RunCheckpoints.Saved saved = RunCheckpoints.load(dir);
        assertEquals(10, saved.step());
        assertEquals(state(10), saved.state());
        Checkpoint ort = CheckpointReader.read(saved.ortCheckpoint());
        assertArrayEquals(new float[] {1.5f, -1.5f}, ort.trainable().get(0).toFloatArray());
        assertEquals(List.of(dir), ckpts.list());
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(1, s.count(), "no temporary folder left behind");
        }
    }

    @Test
    void theSettingsGivenAreSavedWithEachCheckpointAndOlderCheckpointsLoadWithout() throws IOException {
        Path with = new RunCheckpoints(out, null, "{\"beta\" : 0.2}\n").save(1, state(1), ortWriter(1f));
        assertEquals(Optional.of(with.resolve("train_config.json")), RunCheckpoints.load(with).config());
        assertEquals("{\"beta\" : 0.2}\n", Files.readString(with.resolve("train_config.json")));
        Path without = new RunCheckpoints(out, null).save(2, state(2), ortWriter(1f));
        assertEquals(Optional.empty(), RunCheckpoints.load(without).config());
    }

    @Test
    void keepsOnlyTheLastSaveTotalLimitAndTheBest() throws IOException {
        RunCheckpoints ckpts = new RunCheckpoints(out, 2);
        for (long step : new long[] {5, 10, 15, 20}) {
            RunState s = state(step);
            if (step >= 10) {
                s = s.withBest(Map.of("eval_loss", 0.1), 10); // step 10 is the best
            }
            ckpts.save(step, s, ortWriter(step));
        }
        // the best counts towards the limit (HF): best 10 and newest 20
        assertEquals(List.of(out.resolve("checkpoint-10"), out.resolve("checkpoint-20")), ckpts.list());
        ckpts.save(25, state(25), ortWriter(25)); // no best any more
        assertEquals(List.of(out.resolve("checkpoint-20"), out.resolve("checkpoint-25")), ckpts.list());
        assertEquals(out.resolve("checkpoint-25"), ckpts.latest().orElseThrow());
    }

    @Test
    void limitOneKeepsNewestAndBest() throws IOException {
        RunCheckpoints ckpts = new RunCheckpoints(out, 1);
        ckpts.save(1, state(1).withBest(Map.of("eval_loss", 0.1), 1), ortWriter(1));
        ckpts.save(2, state(2).withBest(Map.of("eval_loss", 0.1), 1), ortWriter(2));
        ckpts.save(3, state(3).withBest(Map.of("eval_loss", 0.1), 1), ortWriter(3));
        assertEquals(List.of(out.resolve("checkpoint-1"), out.resolve("checkpoint-3")), ckpts.list());
        ckpts.save(4, state(4).withBest(Map.of("eval_loss", 0.05), 4), ortWriter(4));
        assertEquals(List.of(out.resolve("checkpoint-4")), ckpts.list());
    }

    @Test
    void latestSortsStepsNumerically() throws IOException {
        RunCheckpoints ckpts = new RunCheckpoints(out, null);
        ckpts.save(9, state(9), ortWriter(9));
        ckpts.save(100, state(100), ortWriter(100));
        ckpts.save(20, state(20), ortWriter(20));
        Files.createDirectories(out.resolve("checkpoint-500")); // incomplete: ignored
        Files.createDirectories(out.resolve("runs"));
        assertEquals(out.resolve("checkpoint-100"), ckpts.latest().orElseThrow());
        assertEquals(3, ckpts.list().size());
    }

    @Test
    void resavingTheSameStepReplacesIt() throws IOException {
        RunCheckpoints ckpts = new RunCheckpoints(out, null);
        ckpts.save(3, state(3), ortWriter(1f));
        ckpts.save(3, state(3), ortWriter(2f));
        Checkpoint ort = CheckpointReader.read(RunCheckpoints.load(out.resolve("checkpoint-3")).ortCheckpoint());
        assertEquals(2f, ort.trainable().get(0).toFloatArray()[0]);
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(1, s.count());
        }
    }

    @Test
    void aFailedWriteLeavesNothing() throws IOException {
        RunCheckpoints ckpts = new RunCheckpoints(out, 1);
        ckpts.save(1, state(1), ortWriter(1f));
        IOException e = assertThrows(IOException.class, () -> ckpts.save(2, state(2), path -> {
            Files.writeString(path, "partial");
            throw new Exception("disk full");
        }));
        assertTrue(e.getMessage().contains("disk full"), e.getMessage());
        assertThrows(IOException.class, () -> ckpts.save(2, state(2), path -> { }));
        assertEquals(List.of(out.resolve("checkpoint-1")), ckpts.list(), "the old checkpoint survives");
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(1, s.count());
        }
        assertThrows(IllegalArgumentException.class, () -> ckpts.save(3, state(4), ortWriter(1f)));
    }

    @Test
    void clearErrorsForFoldersThatAreNotCheckpoints() throws IOException {
        new RunCheckpoints(out, null).save(7, state(7), ortWriter(1f));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunCheckpoints.load(out));
        assertTrue(e.getMessage().contains("is not a checkpoint folder: it has no trainer_state.json"), e.getMessage());
        assertTrue(e.getMessage().contains("the latest checkpoint-7"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RunCheckpoints.load(out.resolve("missing")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        Path bad = Files.createDirectories(out.resolve("checkpoint-8"));
        Files.writeString(bad.resolve("trainer_state.json"), "{\"global_step\": 8}");
        Files.writeString(bad.resolve("ort_checkpoint"), "x");
        e = assertThrows(IllegalArgumentException.class, () -> RunCheckpoints.load(bad));
        assertTrue(e.getMessage().contains("not a smoldpo trainer state"), e.getMessage());
        Files.delete(bad.resolve("ort_checkpoint"));
        e = assertThrows(IllegalArgumentException.class, () -> RunCheckpoints.load(bad));
        assertTrue(e.getMessage().contains("ort_checkpoint is missing"), e.getMessage());
    }

    @Test
    void resolvesResumeFromCheckpointLikeHf() throws IOException {
        assertFalse(RunCheckpoints.resolveResume(null, out).isPresent());
        assertFalse(RunCheckpoints.resolveResume("false", out).isPresent());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RunCheckpoints.resolveResume("true", out));
        assertTrue(e.getMessage().contains("has no checkpoint-<step> folder"), e.getMessage());
        RunCheckpoints ckpts = new RunCheckpoints(out, null);
        ckpts.save(4, state(4), ortWriter(1f));
        ckpts.save(8, state(8), ortWriter(1f));
        assertEquals(8, RunCheckpoints.resolveResume("latest", out).orElseThrow().step());
        assertEquals(8, RunCheckpoints.resolveResume("True", out).orElseThrow().step());
        assertEquals(4, RunCheckpoints.resolveResume(out.resolve("checkpoint-4").toString(), out).orElseThrow().step());
    }
}
