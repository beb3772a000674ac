package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Libraries that log through SLF4J (jinjava, which renders the chat template; DJL, which loads the
 * tokenizers) have a binding: no "No SLF4J providers were found" lines on a command's stderr, their
 * warnings still get through, and DJL's CUDA probe does not warn on machines without a GPU driver.
 */
class LoggingBindingTest {
    @TempDir
    Path dir;

    @Test
    void librariesLogWarningsAndAboveOnly() {
        assertEquals("org.slf4j.simple.SimpleLoggerFactory", LoggerFactory.getILoggerFactory().getClass().getName());
        Logger jinjava = LoggerFactory.getLogger("com.hubspot.jinjava.Jinjava");
        assertTrue(jinjava.isWarnEnabled(), "library warnings must not be lost");
        assertFalse(jinjava.isInfoEnabled(), "library INFO chatter stays out of the training output");
        Logger djlCuda = LoggerFactory.getLogger("ai.djl.util.cuda.CudaUtils");
        assertFalse(djlCuda.isWarnEnabled(), "DJL's CUDA probe for the CPU tokenizers is not worth a warning");
        assertTrue(djlCuda.isErrorEnabled());
    }

    @Test
    void aDemoFitPrintsNoSlf4jLinesOnStderr() throws Exception {
        // a fresh JVM: SLF4J complains once per process, when a library first asks for a logger, and a
        // fit renders the chat template through jinjava
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "--enable-preview", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "fit", "--artifacts", dir.resolve("demo").toString(), "--output-dir", dir.resolve("run").toString(),
                "--max-steps", "1", "--max-train-samples", "8", "--max-eval-samples", "8", "--eval-on-start", "false"));
        Path stdout = dir.resolve("stdout.txt");
        Path stderr = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        try {
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the fit did not finish");
        } finally {
            p.destroyForcibly();
        }
        String out = Files.readString(stdout, StandardCharsets.UTF_8);
        String err = Files.readString(stderr, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out + err);
        assertTrue(out.contains("done (completed): 1 steps"), out);
        List<String> slf4j = err.lines().filter(l -> l.contains("SLF4J") || l.contains("CudaUtils")).toList();
        assertEquals(List.of(), slf4j, "stderr:\n" + err);
    }
}
