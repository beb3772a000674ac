package dev.smoldpo.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.smoldpo.runtime.cuda.CudaUnavailableException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrtRuntimeTest {
    @Test
    void trainingEnabledLibraryOfTheJavaApiVersionIsWired() {
        OrtEnvironment env = OrtRuntime.environment();
        assertTrue(env.isTrainingEnabled());
        assertEquals(OrtRuntime.EXPECTED_VERSION, env.getVersion());
        // ORT's Java API is pointed at one folder holding what it loads from there
        Path folder = Path.of(System.getProperty(OrtRuntime.ORT_FOLDER_PROPERTY));
        for (String name : List.of(OrtNativeFolder.MAIN_LIBRARY, OrtNativeFolder.JAVA_API_NAME, OrtNativeFolder.JNI_LIBRARY,
                "libonnxruntime_providers_shared.so")) {
            assertTrue(Files.isRegularFile(folder.resolve(name)), name + " in " + folder);
        }
    }

    @Test
    void cudaOnTheCpuBuildNamesTheGpuBuild() {
        OrtRuntime.environment();
        boolean gpuBuild = OrtRuntime.class.getClassLoader()
                .getResource("org/bytedeco/onnxruntime/linux-x86_64-gpu/libonnxruntime.so.1") != null;
        if (!gpuBuild) {
            CudaUnavailableException e = assertThrows(CudaUnavailableException.class, OrtRuntime::enableCuda);
            assertTrue(e.getMessage().contains("CPU build") && e.getMessage().contains("-Port-gpu"), e.getMessage());
        } else {
            // the -Port-gpu build: either this machine has CUDA, or the message says what it lacks
            try {
                assertEquals(4, OrtRuntime.enableCuda().found().size());
            } catch (CudaUnavailableException e) {
                assertTrue(e.getMessage().startsWith(CudaUnavailableException.PREFIX), e.getMessage());
            }
        }
    }

    @Test
    void anOverriddenLibraryBringsTheProvidersBesideIt(@TempDir Path dir) throws Exception {
        Path gpu = Files.createDirectories(dir.resolve("ort-gpu"));
        Path main = Files.write(gpu.resolve("libonnxruntime.so.1"), new byte[] {1});
        Files.write(gpu.resolve("libonnxruntime_providers_shared.so"), new byte[] {2});
        Files.write(gpu.resolve("libonnxruntime_providers_cuda.so"), new byte[] {3});

        Path folder = OrtNativeFolder.forLibrary(main, dir.resolve("cache"));

        assertEquals(main.toRealPath(), folder.resolve(OrtNativeFolder.JAVA_API_NAME).toRealPath());
        assertEquals(main.toRealPath(), folder.resolve(OrtNativeFolder.MAIN_LIBRARY).toRealPath());
        assertArrayEquals(new byte[] {3}, Files.readAllBytes(folder.resolve("libonnxruntime_providers_cuda.so")));
        assertTrue(Files.size(folder.resolve(OrtNativeFolder.JNI_LIBRARY)) > 10_000, "the Java API's JNI library");

        // the same library without its CUDA provider (a CPU build put in its place): the stale link goes
        Files.delete(gpu.resolve("libonnxruntime_providers_cuda.so"));
        assertEquals(folder, OrtNativeFolder.forLibrary(main, dir.resolve("cache")));
        assertFalse(Files.exists(folder.resolve("libonnxruntime_providers_cuda.so"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(folder.resolve("libonnxruntime_providers_shared.so")));
    }

    @Test
    void cudaWithAProviderButNoCudaOnThisMachineNamesWhatIsMissing(@TempDir Path dir) throws Exception {
        // the real training-enabled library with a CUDA provider file beside it: ORT loads, and --device cuda then
        // has to find the CUDA libraries and the driver on this machine
        OrtRuntime.environment();
        Path gpu = Files.createDirectories(dir.resolve("ort"));
        Path real = Path.of(System.getProperty(OrtRuntime.ORT_FOLDER_PROPERTY)).resolve(OrtNativeFolder.MAIN_LIBRARY);
        Files.copy(real, gpu.resolve(OrtNativeFolder.MAIN_LIBRARY));
        Files.write(gpu.resolve("libonnxruntime_providers_cuda.so"), new byte[0]);
        String out = probe(List.of("-D" + OrtRuntime.OVERRIDE_PROPERTY + "=" + gpu.resolve(OrtNativeFolder.MAIN_LIBRARY),
                "-Dsmoldpo.probe.cuda=true"), Map.of("LD_LIBRARY_PATH", dir.toString(), "SMOLDPO_CACHE", dir.resolve("cache").toString()));
        if (out.contains("FAILED")) {
            // the no-GPU path: a named library, or the named driver, never an obscure crash
            assertTrue(out.contains(CudaUnavailableException.PREFIX), out);
            assertTrue(out.contains("missing: lib") || out.contains("libcuda.so.1 (the NVIDIA driver)")
                    || out.contains("cannot be loaded"), out);
            assertTrue(out.contains("1. LD_LIBRARY_PATH: " + dir) || !out.contains("Looked in"), out);
        } else {
            assertTrue(out.contains("OK") && out.contains("libcudnn.so.9 <- "), out);
        }
    }

    @Test
    void aLibraryWithoutTrainingIsRejectedWithAClearMessage(@TempDir Path dir) throws Exception {
        // The official Java API jar bundles an inference-only libonnxruntime of the same version.
        Path inferenceOnly = dir.resolve("libonnxruntime.so");
        try (InputStream in = OrtEnvironment.class.getClassLoader()
                .getResourceAsStream("ai/onnxruntime/native/linux-x64/libonnxruntime.so")) {
            Files.copy(in, inferenceOnly);
        }
        String out = probe(List.of("-D" + OrtRuntime.OVERRIDE_PROPERTY + "=" + inferenceOnly), Map.of());
        assertTrue(out.contains("FAILED") && out.contains("built without the training API"), out);
    }

    @Test
    void aMissingOverrideIsNamed(@TempDir Path dir) throws Exception {
        String out = probe(List.of("-D" + OrtRuntime.OVERRIDE_PROPERTY + "=" + dir.resolve("nope.so")), Map.of());
        assertTrue(out.contains("FAILED") && out.contains("nope.so") && out.contains("not a file"), out);
    }

    /** Runs {@link OrtRuntimeProbe} in a fresh JVM (ORT can be wired only once per process). */
    private static String probe(List<String> properties, Map<String, String> env) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        command.addAll(properties);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), OrtRuntimeProbe.class.getName()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }
}
