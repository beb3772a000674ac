package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import dev.smoldpo.train.support.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM (what Ctrl-C and `kill` send) during fit: the run finishes its step and saves a checkpoint, metrics and summary. */
class GracefulStopTest {
    @TempDir
    Path root;

    @Test
    void sigtermSavesTheLastStepBeforeExiting() throws Exception {
        Path artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        Path out = root.resolve("run");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Dsmoldpo.progress=plain",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "fit", "--artifacts", artifacts.toString(),
                "--output-dir", out.toString(), "--max-steps", "100000", "--logging-steps", "1", "--save-steps", "100000",
                "--eval-strategy", "no", "--threads", "1"))
                .redirectErrorStream(true).redirectOutput(root.resolve("fit.log").toFile()).start();
        try {
            Path metrics = out.resolve(MetricsLog.FILE_NAME);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!(Files.exists(metrics) && MetricsLog.readUnchecked(metrics).size() >= 2)) {
                assertTrue(p.isAlive(), () -> "fit ended early: " + log());
                assertTrue(System.nanoTime() < deadline, () -> "no steps logged within 120 s: " + log());
                Thread.sleep(100);
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "fit did not stop");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(143, p.exitValue(), "the exit status of a JVM ended by SIGTERM");
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals("interrupted", summary.get("ending").asText(), summary.toString());
        long steps = summary.get("steps").asLong();
        assertTrue(steps >= 2 && steps < 100000, "steps " + steps);
        assertTrue(Files.isDirectory(out.resolve("checkpoint-" + steps)), "the last completed step is saved: " + log());
        assertTrue(Files.isRegularFile(out.resolve("loss.png")));
        assertTrue(log().contains("stop requested"), log());
    }

    private String log() {
        try {
            return Files.readString(root.resolve("fit.log"));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
