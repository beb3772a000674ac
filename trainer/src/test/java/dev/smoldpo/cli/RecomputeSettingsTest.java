package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.model.smolvlm.ActivationRecompute;
import dev.smoldpo.testing.Captured;
import dev.smoldpo.train.config.ConfigException;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export-artifacts --recompute} and the {@code recompute} setting: recorded in the manifest, taken
 * from it by fit like the other export-time settings, an explicit other value refused with the flag that
 * would give it, and HF's {@code gradient_checkpointing} pointing to it.
 */
class RecomputeSettingsTest {
    @TempDir
    static Path root;
    static Path layers;

    @BeforeAll
    static void export() throws Exception {
        layers = root.resolve("artifacts-layers");
        Captured out = Captured.run(() -> Main.run("export-artifacts", "--out", layers.toString(), "--recompute", "layers"));
        assertEquals(0, out.code(), out.err());
    }

    @Test
    void theManifestRecordsTheSettingAndFitTakesIt() {
        assertEquals("layers", Manifest.read(layers.resolve(ArtifactFiles.MANIFEST)).extra().get("recompute"));
        RunSetup s = RunSetup.layers(null, Map.of("artifacts_dir", layers.toString()), false);
        RunSetup.artifacts(s.layers(), s.demo());
        TrainConfig c = s.layers().bind();
        assertEquals(ActivationRecompute.LAYERS, c.recompute(), "not the default none");
        assertTrue(s.layers().source("recompute").startsWith("artifacts "), s.layers().source("recompute"));
    }

    @Test
    void anExplicitOtherValueIsRefusedNamingTheExportFlag() {
        RunSetup s = RunSetup.layers(null, Map.of("artifacts_dir", layers.toString(), "recompute", "none"), false);
        ConfigException e = assertThrows(ConfigException.class, () -> RunSetup.artifacts(s.layers(), s.demo()));
        assertTrue(e.getMessage().contains("recompute is none, but the artifacts in")
                && e.getMessage().contains("were exported with recompute layers")
                && e.getMessage().contains("--recompute none"), e.getMessage());
    }

    @Test
    void gradientCheckpointingFromAnHfConfigWarnsWithTheWayToGetIt() throws Exception {
        Path file = Files.writeString(root.resolve("trl.yaml"), "gradient_checkpointing: true\n");
        List<String> warnings = RunSetup.layers(file, Map.of(), false).layers().warnings();
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("'gradient_checkpointing' has no effect here")
                && warnings.get(0).contains("export-artifacts --recompute layers"), warnings.get(0));
    }

    @Test
    void badValuesAreClearErrors() throws Exception {
        Captured unknown = Captured.run(() -> Main.run("export-artifacts", "--out", root.resolve("x").toString(),
                "--recompute", "all"));
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("unknown recompute setting 'all'; use one of [none, attention, vision, layers]"),
                unknown.err());
        Captured toy = Captured.run(() -> Main.run("export-artifacts", "--toy", "--out", root.resolve("t").toString(),
                "--recompute", "layers"));
        assertEquals(1, toy.code());
        assertTrue(toy.err().contains("the toy model has no layers to recompute"), toy.err());
    }
}
