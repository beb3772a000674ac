package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.model.smolvlm.Precision;
import dev.smoldpo.testing.Captured;
import dev.smoldpo.train.config.ArtifactSettings;
import dev.smoldpo.train.config.ConfigException;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export-artifacts --precision} and the {@code precision} setting: recorded in the manifest,
 * taken from it by fit like the other export-time settings, and half-precision artifacts refused on
 * {@code device: cpu} before anything runs, with the reason and the two ways out.
 */
class PrecisionSettingsTest {
    @TempDir
    static Path root;
    static Path bf16;
    static Path fp16;

    @BeforeAll
    static void export() throws Exception {
        bf16 = root.resolve("artifacts-bf16");
        fp16 = root.resolve("artifacts-fp16");
        Captured out = Captured.run(() -> Main.run("export-artifacts", "--out", bf16.toString(), "--precision", "bf16"));
        assertEquals(0, out.code(), out.err());
        assertTrue(out.out().contains("(bf16)") && out.out().contains("train (fit, grpo) with --device cuda only"), out.out());
        assertEquals(0, Main.run("export-artifacts", "--out", fp16.toString(), "--precision", "fp16"));
    }

    private static RunSetup setup(Map<String, String> flags) {
        return RunSetup.layers(null, flags, false);
    }

    @Test
    void theManifestRecordsThePrecisionAndFitTakesIt() {
        assertEquals("bf16", Manifest.read(bf16.resolve(ArtifactFiles.MANIFEST)).extra().get("precision"));
        RunSetup s = setup(Map.of("artifacts_dir", bf16.toString(), "device", "cuda"));
        RunSetup.artifacts(s.layers(), s.demo()); // no session is opened: on a machine without a GPU too
        TrainConfig c = s.layers().bind();
        assertEquals(Precision.BF16, c.precision(), "not the general default fp32");
        assertTrue(s.layers().source("precision").startsWith("artifacts "), s.layers().source("precision"));
    }

    @Test
    void halfPrecisionArtifactsAreRefusedOnTheCpuWithTheReasonAndTheFix() {
        RunSetup s = setup(Map.of("artifacts_dir", bf16.toString()));
        ConfigException e = assertThrows(ConfigException.class, () -> RunSetup.artifacts(s.layers(), s.demo()));
        assertTrue(e.getMessage().contains("were exported with precision bf16, which is for device cuda")
                && e.getMessage().contains("no bf16 MatMul kernel") && e.getMessage().contains("--device cuda")
                && e.getMessage().contains("--precision fp32"), e.getMessage());
        RunSetup f = setup(Map.of("artifacts_dir", fp16.toString(), "device", "cpu"));
        e = assertThrows(ConfigException.class, () -> RunSetup.artifacts(f.layers(), f.demo()));
        assertTrue(e.getMessage().contains("precision fp16") && e.getMessage().contains("casting to fp32"), e.getMessage());
    }

    @Test
    void anExplicitPrecisionMustMatchTheArtifacts() {
        RunSetup s = setup(Map.of("artifacts_dir", bf16.toString(), "device", "cuda", "precision", "fp32"));
        ConfigException e = assertThrows(ConfigException.class, () -> RunSetup.artifacts(s.layers(), s.demo()));
        assertTrue(e.getMessage().contains("precision is fp32, but the artifacts in")
                && e.getMessage().contains("were exported with precision bf16") && e.getMessage().contains("--precision fp32"),
                e.getMessage());
        RunSetup same = setup(Map.of("artifacts_dir", bf16.toString(), "device", "cuda", "precision", "bf16"));
        RunSetup.artifacts(same.layers(), same.demo());
    }

    @Test
    void fitOnTheCpuFailsBeforeTraining() throws Exception {
        Path out = root.resolve("cpu-run");
        Captured run = Captured.run(() -> Main.run("fit", "--artifacts", bf16.toString(), "--output-dir", out.toString(),
                "--max-steps", "1"));
        assertEquals(1, run.code());
        assertTrue(run.err().contains("precision bf16, which is for device cuda"), run.err());
        assertFalse(Files.exists(out.resolve("train_config.json")), "nothing recorded");
    }

    @Test
    void aBoundConfigIsCheckedAgainstTheManifestToo() {
        // DpoTrainer (fit and eval) verifies the bound configuration once more before opening sessions
        Path manifest = bf16.resolve(ArtifactFiles.MANIFEST);
        TrainConfig cpu = TrainConfig.fromYaml("precision: bf16\ndevice: cpu\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ArtifactSettings.verify(cpu, Manifest.read(manifest), manifest));
        assertTrue(e.getMessage().contains("precision bf16, which is for device cuda"), e.getMessage());
        TrainConfig cuda = TrainConfig.fromYaml("precision: bf16\ndevice: cuda\n");
        ArtifactSettings.verify(cuda, Manifest.read(manifest), manifest);
    }

    @Test
    void manifestsWithoutAPrecisionAreFp32() throws Exception {
        Path old = root.resolve("old-manifest.json");
        ObjectMapper json = new ObjectMapper();
        ObjectNode tree = (ObjectNode) json.readTree(bf16.resolve(ArtifactFiles.MANIFEST).toFile());
        ((ObjectNode) tree.get("extra")).remove("precision");
        json.writeValue(old.toFile(), tree);
        assertEquals(Precision.FP32, ArtifactSettings.precision(Manifest.read(old), old));
    }

    @Test
    void badPrecisionsAreClearErrors() throws Exception {
        Captured unknown = Captured.run(() -> Main.run("export-artifacts", "--out", root.resolve("x").toString(),
                "--precision", "fp8"));
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("unknown precision 'fp8'; use one of [fp32, bf16, fp16]"), unknown.err());
        Captured toy = Captured.run(() -> Main.run("export-artifacts", "--toy", "--out", root.resolve("t").toString(),
                "--precision", "bf16"));
        assertEquals(1, toy.code());
        assertTrue(toy.err().contains("the toy model is exported in fp32 only"), toy.err());
    }
}
