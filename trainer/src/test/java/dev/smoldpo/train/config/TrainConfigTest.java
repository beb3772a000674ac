package dev.smoldpo.train.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.DpoLossType;
import dev.smoldpo.train.config.TrainConfig.Device;
import dev.smoldpo.train.config.TrainConfig.IntervalStrategy;
import dev.smoldpo.train.config.TrainConfig.LrSchedulerType;
import dev.smoldpo.train.config.TrainConfig.TruncationMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {
    @TempDir
    Path dir;

    @Test
    void defaultsFollowTrl() {
        TrainConfig c = TrainConfig.defaults();
        assertEquals(0.1, c.beta());
        assertEquals(DpoLossType.SIGMOID, c.lossType());
        assertEquals(0.0, c.labelSmoothing());
        assertEquals(1024, c.maxLength());
        assertEquals(512, c.maxPromptLength());
        assertEquals(TruncationMode.KEEP_END, c.truncationMode());
        assertEquals(1e-4, c.learningRate());
        assertEquals(LrSchedulerType.LINEAR, c.lrSchedulerType());
        assertEquals(-1, c.maxSteps());
        assertEquals(3.0, c.numTrainEpochs());
        assertEquals(1.0, c.maxGradNorm());
        assertEquals(42, c.seed());
        assertEquals(42, c.effectiveDataSeed());
        assertNull(c.saveTotalLimit());
        assertNull(c.resumeFromCheckpoint());
        assertEquals(DpoLayout.SHARED_PREFIX, c.layout());
        assertEquals(Device.CPU, c.device());
        assertEquals(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                c.loraTargetModules());
        assertTrue(TrainConfig.keys().contains("max_nonfinite_steps"));
        assertTrue(TrainConfig.keys().contains("per_device_train_batch_size"));
        assertEquals(TrainConfig.keys().size(), c.values().size());
    }

    @Test
    void loadsYamlWithSnakeCaseKeys() throws Exception {
        Path file = dir.resolve("dpo.yaml");
        Files.writeString(file, """
                # a run on the demo data
                output_dir: runs/demo
                dataset: data/rlhf-v.parquet
                beta: 0.2
                loss_type: ipo
                learning_rate: 5.0e-4
                lr_scheduler_type: cosine
                warmup_ratio: 0.05
                max_steps: 200
                per_device_train_batch_size: 2
                gradient_accumulation_steps: 4
                max_prompt_length: null
                truncation_mode: keep_start
                save_total_limit: 2
                eval_strategy: steps
                eval_steps: 25
                lora_target_modules: [q_proj, v_proj]
                layout: concatenated
                device: cuda
                resume_from_checkpoint: true
                precompute_ref_log_probs: false
                """);
        TrainConfig c = TrainConfig.load(file);
        assertEquals(Path.of("runs/demo"), c.outputDir());
        assertEquals(Path.of("data/rlhf-v.parquet"), c.dataset());
        assertEquals(0.2, c.beta());
        assertEquals(DpoLossType.IPO, c.lossType());
        assertEquals(5e-4, c.learningRate());
        assertEquals(LrSchedulerType.COSINE, c.lrSchedulerType());
        assertEquals(0.05, c.warmupRatio());
        assertEquals(200, c.maxSteps());
        assertEquals(2, c.perDeviceTrainBatchSize());
        assertEquals(4, c.gradientAccumulationSteps());
        assertNull(c.maxPromptLength());
        assertEquals(TruncationMode.KEEP_START, c.truncationMode());
        assertEquals(2, c.saveTotalLimit());
        assertEquals(IntervalStrategy.STEPS, c.evalStrategy());
        assertEquals(25, c.effectiveEvalSteps());
        assertEquals(List.of("q_proj", "v_proj"), c.loraTargetModules());
        assertEquals(DpoLayout.CONCATENATED, c.layout());
        assertEquals(Device.CUDA, c.device());
        assertEquals("true", c.resumeFromCheckpoint());
        assertEquals(false, c.precomputeRefLogProbs());
        // untouched keys keep their defaults
        assertEquals(1024, c.maxLength());
        assertEquals(42, c.seed());
    }

    @Test
    void acceptsNumbersWrittenAsStringsAndExponentsWithoutDot() {
        TrainConfig c = TrainConfig.fromYaml("learning_rate: 1e-4\nbeta: '0.3'\nmax_steps: '1000'\n");
        assertEquals(1e-4, c.learningRate());
        assertEquals(0.3, c.beta());
        assertEquals(1000, c.maxSteps());
        // a float for a whole-number key is refused rather than truncated (Jackson would make 2.5 into 2)
        assertMessage("key 'max_steps': expected a whole number, got the number 1000.0", "max_steps: 1.0e3");
    }

    @Test
    void emptyFileGivesDefaults() {
        assertEquals(TrainConfig.defaults(), TrainConfig.fromYaml(""));
        assertEquals(TrainConfig.defaults(), TrainConfig.fromJson("{}"));
    }

    @Test
    void jsonRoundTripOfEveryKey() throws Exception {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("output_dir", "out/x");
        o.put("model_name_or_path", "HuggingFaceTB/SmolVLM-256M-Instruct");
        o.put("dataset", "d.parquet");
        o.put("beta", "0.05");
        o.put("label_smoothing", "0.1");
        o.put("loss_type", "robust");
        o.put("learning_rate", "3.3e-5");
        o.put("lr_scheduler_type", "constant_with_warmup");
        o.put("warmup_steps", "7");
        o.put("num_train_epochs", "1.5");
        o.put("save_total_limit", "3");
        o.put("data_seed", "-123456789012345");
        o.put("lora_target_modules", "q_proj,k_proj");
        o.put("resume_from_checkpoint", "out/x/checkpoint-10");
        o.put("max_nonfinite_steps", "0");
        TrainConfig c = TrainConfig.defaults().withOverrides(o);
        assertEquals(c, TrainConfig.fromJson(c.toJson()));
        Path file = dir.resolve("sub/effective_config.json");
        ResolvedConfig.of(c, "test").save(file);
        assertEquals(c, TrainConfig.load(file));
        assertTrue(Files.readString(file).contains("\"per_device_train_batch_size\" : 1"), Files.readString(file));
        assertTrue(Files.readString(file).contains("\"lr_scheduler_type\" : \"constant_with_warmup\""));
        // the saved JSON is also valid YAML for the same config
        assertEquals(c, TrainConfig.fromYaml(c.toJson()));
        assertEquals(TrainConfig.defaults(), TrainConfig.fromJson(TrainConfig.defaults().toJson()));
    }

    @Test
    void unknownKeyListsKnownKeysAndSuggests() {
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.fromYaml("lerning_rate: 0.1\n"));
        assertTrue(e.getMessage().contains("unknown key 'lerning_rate'"), e.getMessage());
        assertTrue(e.getMessage().contains("did you mean 'learning_rate'"), e.getMessage());
        assertTrue(e.getMessage().contains("known keys: output_dir, "), e.getMessage());
        assertTrue(e.getMessage().contains("per_device_train_batch_size"), e.getMessage());
        ConfigException flag = assertThrows(ConfigException.class,
                () -> TrainConfig.defaults().withOverrides(Map.of("--no-such-flag", "1")));
        assertTrue(flag.getMessage().contains("unknown key 'no_such_flag' in command line"), flag.getMessage());
    }

    @Test
    void aTrlConfigsUnknownKeysAreNamedAtOnceAndItsHarmlessOnesOnlyWarn() {
        String yaml = "learning_rate: 1.0e-5\ndeepspeed: ds.json\noptim: adamw_torch\nrpo_alpha: 1.0\nlerning_rate: 0.1\n"
                + "training:\n  beta: 0.2\n";
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.fromYaml(yaml));
        assertTrue(e.getMessage().contains("unknown keys 'rpo_alpha', 'lerning_rate' (did you mean 'learning_rate'?), 'training'"),
                e.getMessage());
        assertTrue(e.getMessage().contains("settings are flat key: value pairs, a nested section is not read"), e.getMessage());
        ResolvedConfig ok = ConfigLayers.defaults().text("deepspeed: ds.json\noptim: adamw_torch\n", "config file t.yaml", false)
                .resolve();
        assertEquals(2, ok.warnings().size(), ok.warnings().toString());
        assertTrue(ok.warnings().getFirst().contains("'deepspeed' has no effect here (one process trains on one device)"),
                ok.warnings().toString());
    }

    @Test
    void wrongTypesNameTheKey() {
        assertMessage("key 'beta': expected a number, got 'abc'", "beta: abc");
        assertMessage("key 'per_device_train_batch_size': expected a whole number, got the number 1.5",
                "per_device_train_batch_size: 1.5");
        assertMessage("key 'reference_free': expected true or false, got the number 3", "reference_free: 3");
        assertMessage("key 'layout': expected one of shared_prefix, concatenated, got 'foo'", "layout: foo");
        assertMessage("key 'loss_type': expected one of sigmoid, robust, hinge, ipo, apo_zero, got 'dpo'", "loss_type: dpo");
        assertMessage("key 'seed': expected a whole number, got null", "seed: null");
        assertMessage("key 'lora_target_modules': expected a list of strings", "lora_target_modules: {a: 1}");
        assertMessage("key 'output_dir': expected a path (or null), got a list", "output_dir: [a, b]");
        assertMessage("expected a mapping of keys to values at the top level", "- a\n- b\n");
        assertMessage("not valid JSON", "{", true);
        ConfigException flag = assertThrows(ConfigException.class,
                () -> TrainConfig.defaults().withOverrides(Map.of("--max-steps", "ten")));
        assertTrue(flag.getMessage().contains("command line (--max-steps): key 'max_steps': expected a whole number, got 'ten'"),
                flag.getMessage());
    }

    private static void assertMessage(String expected, String yaml) {
        assertMessage(expected, yaml, false);
    }

    private static void assertMessage(String expected, String text, boolean json) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> {
                    if (json) {
                        TrainConfig.fromJson(text);
                    } else {
                        TrainConfig.fromYaml(text);
                    }
                });
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void flagsOverrideTheFile() throws Exception {
        Path file = dir.resolve("c.yml");
        Files.writeString(file, "learning_rate: 0.001\nmax_steps: 50\nsave_total_limit: 2\n");
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("--learning-rate", "2e-5");
        flags.put("per_device_eval_batch_size", "16");
        flags.put("--save-total-limit", "none");
        flags.put("--loss-type", "APO_ZERO");
        flags.put("--layout", "shared-prefix");
        flags.put("--logging-first-step", "yes");
        TrainConfig c = TrainConfig.load(file).withOverrides(flags);
        assertEquals(2e-5, c.learningRate());
        assertEquals(50, c.maxSteps());
        assertEquals(16, c.perDeviceEvalBatchSize());
        assertNull(c.saveTotalLimit());
        assertEquals(DpoLossType.APO_ZERO, c.lossType());
        assertEquals(DpoLayout.SHARED_PREFIX, c.layout());
        assertTrue(c.loggingFirstStep());
        assertEquals(TrainConfig.defaults(), TrainConfig.defaults().withOverrides(Map.of()));
    }

    @Test
    void validationMessages() {
        assertInvalid("per_device_train_batch_size must be positive, got 0", "per_device_train_batch_size", "0");
        assertInvalid("gradient_accumulation_steps must be positive, got -2", "gradient_accumulation_steps", "-2");
        assertInvalid("warmup_ratio must be in [0, 1], got 1.5", "warmup_ratio", "1.5");
        assertInvalid("label_smoothing must be in [0, 0.5), got 0.5", "label_smoothing", "0.5");
        assertInvalid("beta must be positive, got 0.0", "beta", "0");
        assertInvalid("max_steps must be -1", "max_steps", "0");
        assertInvalid("test_size must be a fraction in [0, 1) or a whole number of pairs, got 1.5", "test_size", "1.5");
        assertInvalid("max_prompt_length (1024) must be less than max_length (1024)", "max_prompt_length", "1024");
        assertInvalid("save_total_limit must be positive (or null), got 0", "save_total_limit", "0");
        assertInvalid("lora_target_modules must not be empty", "lora_target_modules", ",");
        assertInvalid("adam_beta2 must be in [0, 1), got 1.0", "adam_beta2", "1");
        assertInvalid("learning_rate must be >= 0, got NaN", "learning_rate", "NaN");
        ConfigException e = assertThrows(ConfigException.class,
                () -> TrainConfig.fromYaml("num_train_epochs: 0\n"));
        assertTrue(e.getMessage().contains("num_train_epochs must be positive when max_steps is -1"), e.getMessage());
        // epochs may be 0 when max_steps decides
        assertEquals(5, TrainConfig.fromYaml("num_train_epochs: 0\nmax_steps: 5\n").plan(100).totalSteps());
    }

    private static void assertInvalid(String expected, String key, String value) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> TrainConfig.defaults().withOverrides(Map.of(key, value)));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void derivedStepCounts() {
        TrainConfig c = TrainConfig.defaults(); // batch 1, accumulation 8, 3 epochs
        assertEquals(13, c.plan(100).stepsPerEpoch()); // 100 micro-batches; the last accumulation of 4 still steps
        assertEquals(39, c.plan(100).totalSteps());
        assertEquals(1, c.plan(3).stepsPerEpoch());
        TrainConfig half = c.withOverrides(Map.of("num_train_epochs", "1.5", "per_device_train_batch_size", "3"));
        assertEquals(5, half.plan(100).stepsPerEpoch()); // 34 micro-batches
        assertEquals(8, half.plan(100).totalSteps()); // ceil(7.5)
        assertEquals(574, c.testCount(5733)); // ceil(573.3), as HF datasets
        assertEquals(100, c.withOverrides(Map.of("test_size", "100")).testCount(5733));
        assertEquals(0, c.withOverrides(Map.of("test_size", "0")).testCount(5733));
        assertEquals(10, c.effectiveEvalSteps()); // logging_steps when eval_steps is unset
        assertEquals(7, c.withOverrides(Map.of("data_seed", "7")).effectiveDataSeed());
    }

    @Test
    void hashTracksWhatIsTrainedOnly() {
        TrainConfig c = TrainConfig.defaults();
        assertEquals(64, c.hash().length());
        assertEquals(c.hash(), TrainConfig.fromJson(c.toJson()).hash());
        assertEquals(c.hash(), c.withOverrides(Map.of("logging_steps", "3", "output_dir", "elsewhere",
                "save_total_limit", "1", "threads", "2", "resume_from_checkpoint", "latest")).hash());
        assertNotEquals(c.hash(), c.withOverrides(Map.of("beta", "0.2")).hash());
        assertNotEquals(c.hash(), c.withOverrides(Map.of("dataset", "other.parquet")).hash());
    }

    @Test
    void buildsTheModelSideConfigs() {
        TrainConfig c = TrainConfig.defaults().withOverrides(Map.of("lora_r", "16", "lora_alpha", "32",
                "weight_decay", "0.01", "label_smoothing", "0.2"));
        assertEquals(2.0, c.loraConfig().scale());
        assertEquals(0.01, c.adamWConfig().weightDecay());
        assertEquals(1.0, c.adamWConfig().maxGradNorm());
        assertEquals(0.2, c.dpoConfig().labelSmoothing());
        assertEquals(DpoLossType.SIGMOID, c.dpoConfig().lossType());
    }

    @Test
    void missingFileIsAClearError() {
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.load(dir.resolve("nope.yaml")));
        assertTrue(e.getMessage().contains("config file not found"), e.getMessage());
    }
}
