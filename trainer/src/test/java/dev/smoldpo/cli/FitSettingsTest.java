package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.train.config.ConfigException;
import dev.smoldpo.train.config.ConfigLayers;
import dev.smoldpo.train.config.ResolvedConfig;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import dev.smoldpo.testing.Captured;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How fit's settings are layered: flags over the config file over the demo recipe over the defaults, then the artifacts. */
class FitSettingsTest {
    @TempDir
    static Path root;
    static Path artifacts;

    @BeforeAll
    static void export() {
        artifacts = root.resolve("artifacts-r4");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString(), "--lora-r", "4", "--lora-alpha", "16"));
    }

    private static Path yaml(String name, String text) throws Exception {
        Path file = root.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    @Test
    void aConfigFileValueEqualToAGeneralDefaultStillWinsOverTheDemoRecipe() throws Exception {
        // learning_rate 1e-4 and num_train_epochs 3 are the general defaults; the demo recipe says 3e-3 and 6
        Path file = yaml("demo.yaml", "learning_rate: 1.0e-4\nnum_train_epochs: 3\n");
        RunSetup setup = RunSetup.layers(file, Map.of(), false);
        assertTrue(setup.demo(), "no dataset: the demo");
        TrainConfig c = setup.layers().bind();
        assertEquals(1e-4, c.learningRate());
        assertEquals(3.0, c.numTrainEpochs());
        assertEquals(256, c.maxLength(), "keys the file leaves alone keep the recipe's value");
        assertEquals("config file " + file, setup.layers().source("learning_rate"));
        assertEquals("demo recipe", setup.layers().source("max_length"));
        assertEquals(ConfigLayers.DEFAULT, setup.layers().source("seed"));
        // a flag wins over the file, even when it equals a general default
        RunSetup flagged = RunSetup.layers(file, Map.of("learning-rate", "3e-3", "per_device_train_batch_size", "1"), false);
        assertEquals(3e-3, flagged.layers().bind().learningRate());
        assertEquals(1, flagged.layers().bind().perDeviceTrainBatchSize(), "the recipe's 8 is overridden by the default-valued flag");
        assertEquals("command line (--learning-rate)", flagged.layers().source("learning_rate"));
    }

    @Test
    void theExportsOptimizerSettingsAreFitsDefaultsThatFlagsOverride() throws Exception {
        Path decayed = root.resolve("artifacts-decay");
        assertEquals(0, Main.run("export-artifacts", "--out", decayed.toString(), "--weight-decay", "0.1", "--max-grad-norm", "0"));
        RunSetup setup = RunSetup.layers(null, Map.of("artifacts_dir", decayed.toString()), true);
        RunSetup.artifacts(setup.layers(), setup.demo());
        TrainConfig c = setup.layers().bind();
        assertEquals(0.1, c.weightDecay(), "not TrainingArguments' 0.0");
        assertEquals(0.0, c.maxGradNorm(), "not TrainingArguments' 1.0");
        assertTrue(setup.layers().source("weight_decay").startsWith("artifacts "), setup.layers().source("weight_decay"));
        assertEquals(0.1, c.adamWConfig().weightDecay(), "and so in the optimizer graph fit writes");
        assertEquals(ConfigLayers.DEFAULT, setup.layers().source("adam_beta1"), "values equal to the defaults keep their source");
        // fit rebuilds its optimizer, so unlike the LoRA settings a flag may change them
        RunSetup flagged = RunSetup.layers(null, Map.of("artifacts_dir", decayed.toString(), "weight-decay", "0.02"), true);
        RunSetup.artifacts(flagged.layers(), flagged.demo());
        assertEquals(0.02, flagged.layers().bind().weightDecay());
        assertEquals(0.0, flagged.layers().bind().maxGradNorm());
    }

    @Test
    void unsetExportTimeSettingsComeFromTheArtifactsAndExplicitOnesMustMatch() throws Exception {
        RunSetup setup = RunSetup.layers(null, Map.of("artifacts_dir", artifacts.toString()), false);
        RunSetup.artifacts(setup.layers(), setup.demo());
        TrainConfig c = setup.layers().bind();
        assertEquals(4, c.loraR(), "not the general default 8");
        assertEquals(16.0, c.loraAlpha());
        assertTrue(setup.layers().source("lora_r").startsWith("artifacts "), setup.layers().source("lora_r"));
        assertEquals(artifacts.toAbsolutePath(), c.artifactsDir());

        RunSetup same = RunSetup.layers(null, Map.of("artifacts_dir", artifacts.toString(), "lora_r", "4"), false);
        RunSetup.artifacts(same.layers(), same.demo()); // equal: fine

        RunSetup conflicting = RunSetup.layers(null, Map.of("artifacts_dir", artifacts.toString(), "lora-r", "16"), false);
        ConfigException e = assertThrows(ConfigException.class, () -> RunSetup.artifacts(conflicting.layers(), conflicting.demo()));
        assertTrue(e.getMessage().contains("command line (--lora-r): lora_r is 16, but the artifacts in"), e.getMessage());
        assertTrue(e.getMessage().contains("were exported with lora_r 4"), e.getMessage());

        Path file = yaml("loss.yaml", "loss_type: ipo\n");
        RunSetup ipo = RunSetup.layers(file, Map.of("artifacts_dir", artifacts.toString()), false);
        e = assertThrows(ConfigException.class, () -> RunSetup.artifacts(ipo.layers(), ipo.demo()));
        assertTrue(e.getMessage().contains("loss_type is ipo, but the artifacts in"), e.getMessage());
        assertTrue(e.getMessage().contains("exported with loss_type sigmoid"), e.getMessage());

        RunSetup targets = RunSetup.layers(null, Map.of("artifacts_dir", artifacts.toString(),
                "lora_target_modules", "down_proj,up_proj,gate_proj,o_proj,v_proj,k_proj,q_proj"), false);
        RunSetup.artifacts(targets.layers(), targets.demo()); // the same set in another order matches, as in PEFT
    }

    @Test
    void fitWithAConflictingLoraRankFailsBeforeTraining() throws Exception {
        Path out = root.resolve("conflict-run");
        Captured run = Captured.run(() -> Main.run("fit", "--artifacts", artifacts.toString(), "--output-dir", out.toString(),
                "--lora-r", "16", "--max-steps", "1"));
        assertEquals(1, run.code());
        assertTrue(run.err().contains("lora_r is 16, but the artifacts in"), run.err());
        assertFalse(Files.exists(out.resolve("train_config.json")), "nothing recorded");
    }

    @Test
    void keysWithoutEffectHereWarnAndUnknownKeysFail() throws Exception {
        Path file = yaml("trl.yaml", "report_to: wandb\nlogging_dir: logs\nbf16: true\nbeta: 0.2\n");
        RunSetup setup = RunSetup.layers(file, Map.of("--run-name", "x"), false);
        List<String> warnings = setup.layers().warnings();
        assertEquals(4, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("'report_to' has no effect here"), warnings.toString());
        assertTrue(warnings.get(3).startsWith("command line: 'run_name' has no effect here"), warnings.toString());
        assertEquals(0.2, setup.layers().bind().beta());
        ResolvedConfig resolved = setup.layers().resolve();
        assertEquals(warnings, resolved.warnings());

        ConfigException e = assertThrows(ConfigException.class, () -> RunSetup.layers(yaml("typo.yaml", "bta: 0.2\n"), Map.of(), false));
        assertTrue(e.getMessage().contains("unknown key 'bta'") && e.getMessage().contains("did you mean 'beta'"), e.getMessage());
    }

    @Test
    void listKeysShowsTypeDefaultAndDescriptionAndHelpPointsToIt() throws Exception {
        Captured keys = Captured.run(() -> Main.run("fit", "--list-keys"));
        assertEquals(0, keys.code());
        String learningRate = keys.out().lines().filter(l -> l.startsWith("learning_rate ")).findFirst().orElseThrow();
        assertTrue(learningRate.matches("learning_rate\\s+float\\s+1e-4\\s+\\(HF\\) peak learning rate of AdamW.*\\[demo: 3e-3\\].*"),
                learningRate);
        String layout = keys.out().lines().filter(l -> l.startsWith("layout ")).findFirst().orElseThrow();
        assertTrue(layout.contains("choice") && layout.contains("{shared_prefix, concatenated}"), layout);
        assertEquals(TrainConfig.keys().size() + 1, keys.out().lines().takeWhile(l -> !l.isBlank()).count(),
                "a header and one line per key");
        Captured help = Captured.run(() -> Main.run("fit", "--help"));
        assertTrue(help.out().contains("fit --list-keys"), help.out());
    }
}
