package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.testing.SharedModels;
import dev.smoldpo.train.support.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fit on the demo artifacts: resume, the reference cache and gradient accumulation, through the CLI. */
class DpoFitTest {
    @TempDir
    static Path root;
    static Path artifacts;
    static Path data;

    @BeforeAll
    static void setUp() throws Exception {
        artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        data = DemoDataset.write(root.resolve("demo.parquet"), 96, 3, false);
    }

    /** A demo-recipe fit on the small set, one thread, logging every step. */
    private static int fit(Path out, String... extra) {
        return fit(artifacts, out, extra);
    }

    private static int fit(Path artifacts, Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset",
                data.toString(), "--output-dir", out.toString(), "--threads", "1", "--logging-steps", "1",
                "--eval-strategy", "no", "--eval-on-start", "false", "--max-steps", "6", "--warmup-ratio", "0"));
        args.addAll(List.of(extra));
        return Main.run(args.toArray(String[]::new));
    }

    private static List<Double> losses(Path out) throws Exception {
        List<Double> losses = new ArrayList<>();
        for (MetricsLog.Record r : MetricsLog.read(out.resolve(MetricsLog.FILE_NAME))) {
            if (r.has(MetricsLog.LOSS)) {
                losses.add(((Number) r.values().get(MetricsLog.LOSS)).doubleValue());
            }
        }
        return losses;
    }

    private static Checkpoint finalLora(Path out, int step) {
        return CheckpointReader.read(out.resolve("checkpoint-" + step).resolve("ort_checkpoint"));
    }

    private static void assertSameLora(Checkpoint a, Checkpoint b, double tolerance) {
        assertEquals(a.trainable().size(), b.trainable().size());
        for (CheckpointTensor t : a.trainable()) {
            float[] x = t.toFloatArray();
            float[] y = b.parameter(t.name()).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i], y[i], tolerance * Math.max(1, Math.abs(x[i])), t.name() + "[" + i + "]");
            }
        }
    }

    @Test
    void resumeAfterAKillContinuesExactly() throws Exception {
        Path straight = root.resolve("straight");
        Path killed = root.resolve("killed");
        assertEquals(0, fit(straight, "--save-steps", "3"));
        assertEquals(0, fit(killed, "--save-steps", "3", "--stop-after-step", "3"));
        assertEquals(3, losses(killed).size(), "the killed run logged 3 steps");
        assertEquals(0, fit(killed, "--save-steps", "3", "--resume"));
        List<Double> a = losses(straight);
        List<Double> b = losses(killed);
        assertEquals(6, a.size());
        assertEquals(a.size(), b.size(), "no duplicated or missing steps after the resume");
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i), b.get(i), 1e-6, "loss at step " + (i + 1));
        }
        assertSameLora(finalLora(straight, 6), finalLora(killed, 6), 1e-6);
    }

    @Test
    void aSecondRunMakesNoReferenceForwardPassesAndGivesTheSameResults() throws Exception {
        // artifacts of their own: no other test's run has filled their reference cache
        Path fresh = root.resolve("cache-artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", fresh.toString()));
        Path cacheFile = fresh.resolve("reference_cache.duckdb");
        assertTrue(Files.notExists(cacheFile), "a fresh export has no reference cache");
        int usablePairs;
        try (PreferenceDataset ds = PreferenceDataset.open(data)) {
            usablePairs = ds.size();
        }
        assertEquals(96, usablePairs);
        Path first = root.resolve("cache-1");
        Path second = root.resolve("cache-2");
        // no gradient clipping: see withGradientClippingTwoRunsAgreeWithinFloatRounding for why exact
        // equality needs it off
        assertEquals(0, fit(fresh, first, "--max-grad-norm", "0"));
        JsonNode s1 = new ObjectMapper().readTree(first.resolve("summary.json").toFile());
        assertEquals(0, s1.get("skipped").get("total").asLong(), "every pair is usable");
        assertTrue(s1.get("reference_forward_passes").asLong() > 0, "the first run computed the reference log-probs");
        // precompute_ref_log_probs (on in the demo recipe) scores the train and held-out pairs once each
        assertEquals(usablePairs, cacheEntries(cacheFile), "one cache entry per usable pair");
        // what the steps fed and fetched: each trainStep fetches the loss and 4 floats per pair (log-probs
        // and logit sums of both completions), nothing else
        JsonNode bytes = s1.get("host_device_bytes");
        JsonNode train = bytes.get("train_step");
        long calls = train.get("calls").asLong();
        assertTrue(calls >= 6, "at least one trainStep per optimizer step: " + calls);
        assertEquals(4 * (calls + 4 * s1.get("pairs_trained").asLong()), train.get("output_bytes").asLong(), bytes.toString());
        assertTrue(train.get("input_bytes_per_call").asLong() > 1000, "ids, masks and pixels are fed: " + bytes);
        long perStep = (train.get("input_bytes").asLong() + train.get("output_bytes").asLong()) / 6;
        assertEquals(perStep, s1.get("host_device_bytes_per_step").asLong());
        assertEquals(perStep, bytes.get("per_optimizer_step").asLong());
        assertEquals(0, bytes.get("eval_step").get("calls").asLong(), "no evaluation in this run");

        assertEquals(0, fit(fresh, second, "--max-grad-norm", "0"));
        JsonNode s2 = new ObjectMapper().readTree(second.resolve("summary.json").toFile());
        assertEquals(0, s2.get("reference_forward_passes").asLong(), "every reference log-prob came from the cache");
        assertEquals(usablePairs, cacheEntries(cacheFile), "nothing added or duplicated");
        assertEquals(6, losses(first).size());
        assertEquals(losses(first), losses(second));
        assertSameLora(finalLora(first, 6), finalLora(second, 6), 0);
    }

    /** Rows in a reference cache file (every reference hash), read straight from DuckDB. */
    private static long cacheEntries(Path file) throws Exception {
        java.util.Properties readOnly = new java.util.Properties();
        readOnly.setProperty("duckdb.read_only", "true");
        try (java.sql.Connection db = java.sql.DriverManager.getConnection("jdbc:duckdb:" + file.toAbsolutePath(), readOnly);
             java.sql.Statement st = db.createStatement();
             java.sql.ResultSet r = st.executeQuery("SELECT count(*), count(DISTINCT example) FROM reference_logps")) {
            r.next();
            assertEquals(r.getLong(1), r.getLong(2), "one row per example");
            return r.getLong(1);
        }
    }

    /**
     * Without gradient clipping a run is a pure function of its inputs: two runs, one on one
     * intra-op thread and one on two, give bit-identical losses and LoRA tensors.
     */
    @Test
    void withoutGradientClippingTwoRunsAreBitIdenticalOnOneOrTwoThreads() throws Exception {
        Path one = root.resolve("exact-1-thread");
        Path two = root.resolve("exact-2-threads");
        assertEquals(0, fit(one, "--max-grad-norm", "0", "--max-steps", "12", "--save-steps", "12"));
        assertEquals(0, fit(two, "--max-grad-norm", "0", "--max-steps", "12", "--save-steps", "12", "--threads", "2"));
        assertEquals(12, losses(one).size());
        assertEquals(losses(one), losses(two));
        assertSameLora(finalLora(one, 12), finalLora(two, 12), 0);
    }

    /**
     * ORT hands the gradients to the optimizer in an order that changes from session to session (a hash
     * map); its InplaceClipGradNorm sums the squared norms in that order, so the clip factor differed in
     * the last bits between runs. The optimizer fit writes sums them in sorted order (GradientClipping):
     * with every step clipping (max_grad_norm 1e-3) two runs are bit-identical.
     */
    @Test
    void withGradientClippingTwoRunsAreBitIdentical() throws Exception {
        Path a = root.resolve("clipped-a");
        Path b = root.resolve("clipped-b");
        assertEquals(0, fit(a, "--max-grad-norm", "1e-3", "--max-steps", "12", "--save-steps", "12"));
        assertEquals(0, fit(b, "--max-grad-norm", "1e-3", "--max-steps", "12", "--save-steps", "12"));
        assertEquals(12, losses(a).size());
        assertEquals(losses(a), losses(b));
        assertSameLora(finalLora(a, 12), finalLora(b, 12), 0);
    }

    @Test
    void batchOfFourEqualsFourMicroBatchesOfOne() throws Exception {
        Path big = root.resolve("batch4");
        Path micro = root.resolve("accum4");
        assertEquals(0, fit(big, "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "1",
                "--max-steps", "3", "--save-steps", "3"));
        assertEquals(0, fit(micro, "--per-device-train-batch-size", "1", "--gradient-accumulation-steps", "4",
                "--max-steps", "3", "--save-steps", "3"));
        List<Double> a = losses(big);
        List<Double> b = losses(micro);
        assertEquals(3, a.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i), b.get(i), 1e-5, "step " + (i + 1) + " loss");
        }
        // float32 sums in a different order; AdamW's first steps amplify tiny gradient differences
        assertSameLora(finalLora(big, 3), finalLora(micro, 3), 1e-4);
    }

    @Test
    void evalOfASavedCheckpointReproducesTheRunsFinalEvaluation() throws Exception {
        Path out = root.resolve("evaluated");
        assertEquals(0, fit(out, "--eval-strategy", "steps", "--eval-steps", "6", "--save-steps", "6"));
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(buf, true));
        try {
            assertEquals(0, Main.run("eval", "--demo", "--artifacts", artifacts.toString(), "--dataset", data.toString(),
                    "--checkpoint", out.resolve("checkpoint-6").toString(), "--threads", "1"));
        } finally {
            System.setOut(old);
        }
        String printed = buf.toString();
        double accuracy = summary.get("last_eval").get("eval_rewards/accuracies").asDouble();
        double loss = summary.get("last_eval").get("eval_loss").asDouble();
        assertTrue(printed.contains(String.format(java.util.Locale.ROOT, "%.6f", accuracy)), printed);
        assertTrue(printed.contains(String.format(java.util.Locale.ROOT, "%.6f", loss)), printed + " vs " + loss);
    }

    @Test
    void nonFiniteLossesSkipStepsAndStopTheRunAfterNInARow() throws Exception {
        Path out = root.resolve("exploding");
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        int code;
        try {
            code = fit(out, "--learning-rate", "1e30", "--max-grad-norm", "0", "--max-nonfinite-steps", "2");
        } finally {
            System.setErr(old);
        }
        assertEquals(1, code);
        assertTrue(err.toString().contains("2 steps in a row had a non-finite loss"), err.toString());
    }

    @Test
    void cudaWithoutAGpuFailsClearly() {
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        try {
            org.junit.jupiter.api.Assumptions.assumeTrue(dev.smoldpo.nativelib.Device.CUDA.isAvailable() == false,
                    "this machine has a GPU");
            assertEquals(1, fit(root.resolve("cuda"), "--device", "cuda"));
        } finally {
            System.setErr(old);
        }
        assertTrue(err.toString().contains("CUDA execution provider is not available"), err.toString());
    }

    @Test
    void artifactsThatDoNotFitTheDataFailBeforeTraining() throws Exception {
        // the real SmolVLM tokenizer (49,280 tokens) in front of the 512-token demo model
        Path mismatched = root.resolve("mismatched-artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", mismatched.toString()));
        Files.copy(SharedModels.smolVlmDir().resolve("tokenizer.json"),
                mismatched.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        Path out = root.resolve("mismatched-run");
        try {
            assertEquals(1, Main.run("fit", "--demo", "--artifacts", mismatched.toString(), "--dataset", data.toString(),
                    "--output-dir", out.toString()));
        } finally {
            System.setErr(old);
        }
        assertTrue(err.toString().contains("the tokenizer has 49280 tokens but the model only 512"), err.toString());
        assertTrue(Files.notExists(out.resolve("metrics.jsonl")), "nothing trained");
    }

    @Test
    void badSettingsFailBeforeTraining() throws Exception {
        Path out = root.resolve("bad");
        assertEquals(1, fit(out, "--loss-type", "ipo")); // the artifacts were exported with sigmoid
        assertEquals(1, fit(out, "--learning-rate", "fast"));
        assertTrue(Files.notExists(out.resolve("checkpoint-1")));
    }
}
