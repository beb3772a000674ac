package dev.smoldpo.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrtRuntimeTest {
    @Test
    void trainingEnabledLibraryOfTheJavaApiVersionIsWired() {
        OrtEnvironment env = OrtRuntime.environment();
        assertTrue(env.isTrainingEnabled());
        assertEquals(OrtRuntime.EXPECTED_VERSION, env.getVersion());
        assertTrue(System.getProperty(OrtRuntime.ORT_PATH_PROPERTY).endsWith("libonnxruntime.so.1"));
    }

    @Test
    void aLibraryWithoutTrainingIsRejectedWithAClearMessage(@TempDir Path dir) throws Exception {
        // The official Java API jar bundles an inference-only libonnxruntime of the same version.
        Path inferenceOnly = dir.resolve("libonnxruntime.so");
        try (InputStream in = OrtEnvironment.class.getClassLoader()
                .getResourceAsStream("ai/onnxruntime/native/linux-x64/libonnxruntime.so")) {
            Files.copy(in, inferenceOnly);
        }
        String out = probe("-D" + OrtRuntime.OVERRIDE_PROPERTY + "=" + inferenceOnly);
        assertTrue(out.contains("FAILED") && out.contains("built without the training API"), out);
    }

    @Test
    void aMissingOverrideIsNamed(@TempDir Path dir) throws Exception {
        String out = probe("-D" + OrtRuntime.OVERRIDE_PROPERTY + "=" + dir.resolve("nope.so"));
        assertTrue(out.contains("FAILED") && out.contains("nope.so") && out.contains("not a file"), out);
    }

    /** Runs {@link OrtRuntimeProbe} in a fresh JVM (ORT can be wired only once per process). */
    private static String probe(String property) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", property, "-cp",
                System.getProperty("java.class.path"), OrtRuntimeProbe.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }
}
