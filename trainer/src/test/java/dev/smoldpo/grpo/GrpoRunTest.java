package dev.smoldpo.grpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.cli.Main;
import dev.smoldpo.testing.Captured;
import dev.smoldpo.train.support.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trainer.jar grpo} end to end on the demo, with small settings: a resumed run continues exactly
 * (the same samples, rewards and losses, the same adapters), and a reward command that breaks stops the
 * run with an error naming it and a checkpoint saved.
 */
class GrpoRunTest {
    @TempDir
    static Path root;
    static Path artifacts;

    @BeforeAll
    static void export() {
        artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--loss", "grpo", "--out", artifacts.toString()));
    }

    private static String[] run(Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("grpo", "--artifacts-dir", artifacts.toString(), "--output-dir",
                out.toString(), "--max-steps", "4", "--num-generations", "4", "--per-device-train-batch-size", "8",
                "--gradient-accumulation-steps", "2", "--logging-steps", "1", "--eval-steps", "0", "--eval-samples", "8",
                "--save-steps", "2", "--learning-rate", "3e-2", "--num-iterations", "2", "--max-completion-length", "2",
                "--beta", "0", "--temperature", "1.0")); // an export without KL term; TRL's temperature
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void aResumedRunContinuesExactly() throws Exception {
        Path whole = root.resolve("whole");
        Path resumed = root.resolve("resumed");
        // with a loose format reward beside the exact one, four tiny steps' rewards differ within groups
        String[] rewards = {"--reward-funcs", "normalised_match,format:[a-z].*"};
        assertEquals(0, Main.run(run(whole, rewards)));
        assertEquals(0, Main.run(run(resumed, concat(rewards, "--stop-after-step", "2"))));
        assertTrue(Files.isDirectory(resumed.resolve("checkpoint-2")) && !Files.exists(resumed.resolve("checkpoint-4")));
        // a bare resume: the run's own settings (grpo_config.json) with nothing repeated
        Captured bare = Captured.run(() -> Main.run("grpo", "--output-dir", resumed.toString(), "--resume"));
        assertEquals(0, bare.code(), bare.err());
        assertTrue(bare.out().contains("resuming with the settings of " + resumed.toAbsolutePath().resolve("grpo_config.json")),
                bare.out());
        List<MetricsLog.Record> a = MetricsLog.read(whole.resolve(MetricsLog.FILE_NAME));
        List<MetricsLog.Record> b = MetricsLog.read(resumed.resolve(MetricsLog.FILE_NAME));
        assertEquals(a.size(), b.size(), "the same records");
        for (int i = 0; i < a.size(); i++) {
            for (String key : List.of("loss", "reward", "reward_std", "completions/mean_length", "clip_ratio/region_mean")) {
                if (a.get(i).has(key)) {
                    assertEquals(a.get(i).get(key).getAsDouble(), b.get(i).get(key).getAsDouble(), 0.0,
                            "step " + a.get(i).step() + " " + key);
                }
            }
        }
        Checkpoint x = CheckpointReader.read(whole.resolve("checkpoint-4").resolve("ort_checkpoint"));
        Checkpoint y = CheckpointReader.read(resumed.resolve("checkpoint-4").resolve("ort_checkpoint"));
        Checkpoint initial = CheckpointReader.read(artifacts.resolve("checkpoint"));
        java.util.Map<String, float[]> xs = x.trainableFloats();
        java.util.Map<String, float[]> ys = y.trainableFloats();
        java.util.Map<String, float[]> start = initial.trainableFloats();
        boolean moved = false;
        for (String name : start.keySet()) {
            assertTrue(java.util.Arrays.equals(xs.get(name), ys.get(name)), name + ": the same adapters after the resumed run");
            moved |= !java.util.Arrays.equals(start.get(name), xs.get(name));
        }
        assertTrue(moved, "training moved the adapters");
        // grpo_config.json: numbers as numbers, paths absolute (a resume from another folder finds them)
        com.fasterxml.jackson.databind.JsonNode saved = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(whole.resolve("grpo_config.json").toFile());
        assertTrue(saved.get("learning_rate").isNumber() && saved.get("max_steps").isInt(), saved.toString());
        assertEquals(artifacts.toAbsolutePath().toString(), saved.get("artifacts_dir").asText());
        assertTrue(a.getLast().epoch().orElse(0) > 0, "the epoch advances over the training prompts");
        // export takes a grpo run like a fit run: the adapter of the latest checkpoint
        assertEquals(0, Main.run("export", "--run", whole.toString(), "--format", "peft"));
        assertTrue(Files.size(whole.resolve("export").resolve("peft").resolve("adapter_model.safetensors")) > 0);
        // an ONNX-only option with the PEFT format alone is an error, not silently ignored
        Captured q4 = Captured.run(() -> Main.run("export", "--run", whole.toString(), "--format", "peft", "--dtype", "q4"));
        assertEquals(1, q4.code());
        assertTrue(q4.err().contains("--dtype shapes the ONNX graphs, which --format peft does not write"), q4.err());
    }

    @Test
    void aBrokenRewardCommandGivesANamedErrorAndACheckpoint() throws Exception {
        Path script = root.resolve("bad_reward.sh");
        Files.writeString(script, "#!/bin/sh\nwhile read line; do echo 'not a score'; done\n");
        Path out = root.resolve("broken");
        Captured c = Captured.run(() -> Main.run(run(out, "--reward-funcs", "normalised_match,cmd:sh " + script)));
        assertNotEquals(0, c.code());
        String all = c.out() + c.err();
        assertTrue(all.contains("reward failed: reward 'cmd'") && all.contains("not a score"), all);
        assertTrue(all.contains("checkpoint-0"), all);
        assertTrue(Files.isRegularFile(out.resolve("checkpoint-0").resolve("ort_checkpoint")), "a checkpoint was saved");
    }

    private static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
