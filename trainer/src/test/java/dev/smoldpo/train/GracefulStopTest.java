package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.RunCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM (what `kill` sends, and the launcher passes a Ctrl-C on as) during fit, in a JVM of its own: the
 * run finishes its step and saves a checkpoint, metrics and summary; stopped before its first step, it
 * says there is nothing to save and leaves a folder that a plain rerun may use.
 */
class GracefulStopTest {
    @TempDir
    Path root;

    private Path artifacts() {
        Path artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        return artifacts;
    }

    /** fit of the demo in another JVM, its output in fit.log. */
    private Process start(Path artifacts, Path out, String... extra) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dsmoldpo.progress=plain",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "fit", "--artifacts", artifacts.toString(),
                "--output-dir", out.toString(), "--logging-steps", "1", "--eval-strategy", "no", "--threads", "1"));
        command.addAll(List.of(extra));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(root.resolve("fit.log").toFile()).start();
    }

    /** Waits for {@code condition} while the run lives, then sends it SIGTERM and waits for its exit status. */
    private int stopWhen(Process p, BooleanSupplier condition, long delayMillis) throws Exception {
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!condition.getAsBoolean()) {
                assertTrue(p.isAlive(), () -> "fit ended early: " + log());
                assertTrue(System.nanoTime() < deadline, () -> "nothing to stop at within 120 s: " + log());
                Thread.sleep(10);
            }
            Thread.sleep(delayMillis);
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "fit did not stop");
        } finally {
            p.destroyForcibly();
        }
        return p.exitValue();
    }

    private static int records(Path out) {
        Path metrics = out.resolve(MetricsLog.FILE_NAME);
        return Files.exists(metrics) ? MetricsLog.readUnchecked(metrics).size() : 0;
    }

    @Test
    void sigtermSavesTheLastStepBeforeExiting() throws Exception {
        Path out = root.resolve("run");
        Process p = start(artifacts(), out, "--max-steps", "100000", "--save-steps", "100000");
        assertEquals(143, stopWhen(p, () -> records(out) >= 2, 0), "the exit status of a JVM ended by SIGTERM");
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals("interrupted", summary.get("ending").asText(), summary.toString());
        long steps = summary.get("steps").asLong();
        assertTrue(steps >= 2 && steps < 100000, "steps " + steps);
        assertTrue(Files.isDirectory(out.resolve("checkpoint-" + steps)), "the last completed step is saved: " + log());
        assertTrue(Files.isRegularFile(out.resolve("loss.png")));
        assertTrue(log().contains("stop requested"), log());
    }

    @Test
    void aStopDuringTheFirstStepFinishesItAndSavesIt() throws Exception {
        // a first step of 256 pairs (a second or more), stopped 0.2 s after the evaluation before it: the
        // signal used to end the JVM's ONNX Runtime environment under the step, which then died unreported
        Path out = root.resolve("first");
        Process p = start(artifacts(), out, "--max-steps", "3", "--gradient-accumulation-steps", "32");
        assertEquals(143, stopWhen(p, () -> records(out) >= 1, 200), log());
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals("interrupted", summary.get("ending").asText(), summary + log());
        assertEquals(1, summary.get("steps").asLong(), log());
        assertTrue(Files.isDirectory(out.resolve("checkpoint-1")), log());
    }

    @Test
    void aStopBeforeTheFirstStepSavesNothingAndAPlainRerunUsesTheFolder() throws Exception {
        // fresh artifacts: the reference pass over the 512 demo pairs (seconds) is still running at the signal
        Path artifacts = artifacts();
        Path out = root.resolve("early");
        Process p = start(artifacts, out, "--max-steps", "3");
        assertEquals(143, stopWhen(p, () -> log().contains("training 448 pairs"), 0), log());
        assertTrue(log().contains("stopped before the first step: nothing to save"), log());
        assertEquals(List.of(), new RunCheckpoints(out, null).list(), log());
        assertFalse(Files.exists(out.resolve("summary.json")), "no summary of a run that did not run");
        assertEquals(0, Main.run("fit", "--artifacts", artifacts.toString(), "--output-dir", out.toString(), "--threads", "1",
                "--max-steps", "1", "--eval-strategy", "no"), "a plain rerun, without --overwrite-output-dir");
        assertTrue(Files.isDirectory(out.resolve("checkpoint-1")));
    }

    private String log() {
        try {
            return Files.readString(root.resolve("fit.log"));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
