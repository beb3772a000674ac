package dev.smoldpo.train.config;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.DpoLossType;
import dev.smoldpo.model.smolvlm.ActivationRecompute;
import dev.smoldpo.model.smolvlm.Precision;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything {@code trainer.jar fit} needs to know, with the names and meanings users know from TRL's
 * {@code DPOConfig}, HF {@code TrainingArguments} and TRL's {@code ModelConfig} (LoRA: {@code lora_r},
 * {@code lora_alpha}, {@code lora_dropout}, {@code lora_target_modules}). Each component's {@link Key}
 * gives its general default and description; {@link ConfigLayers} binds the layers (defaults, recipe,
 * config file, flags, artifacts) into this record with Jackson, and the compact constructor checks ranges.
 *
 * <p>Defaults are TRL/HF's except where noted:
 * <ul>
 *   <li>{@code learning_rate} 1e-4 (TRL: 1e-6, HF: 5e-5): LoRA on the small demo/256M models learns
 *       visibly within a short CPU run at 1e-4; the HF SmolVLM cookbook's full-size run used 1e-6.</li>
 *   <li>{@code per_device_train_batch_size} 1, {@code gradient_accumulation_steps} 8 (HF: 8 and 1):
 *       the same effective batch of 8 pairs, with the memory of one pair per micro-batch on CPU;
 *       {@code per_device_eval_batch_size} 4 (HF: 8).</li>
 *   <li>{@code precompute_ref_log_probs} true (TRL: false, and impossible for vision datasets there):
 *       the reference log-probs of every pair are computed once and cached.</li>
 *   <li>{@code eval_strategy} epoch (HF: no), so the test split's reward accuracy is reported.</li>
 *   <li>{@code lora_r} 8, {@code lora_alpha} 8, {@code lora_dropout} 0 (TRL ModelConfig: 16, 32,
 *       0.05): the HF SmolVLM DPO cookbook's rank and scale, and the export command's defaults. These
 *       and the loss settings are fixed when the artifacts are exported ({@link ArtifactSettings}).</li>
 *   <li>{@code image_longest_edge} 512: one 512x512 tile (64 image tokens for SmolVLM-256M) per image,
 *       the "resize to avoid running out of memory" of the reference setup; null = the processor's own.</li>
 *   <li>{@code test_size} 0.1 of the pairs (a count when >= 1, as in HF datasets' train_test_split).</li>
 * </ul>
 * Not supported: HF's fractional {@code logging_steps}/{@code eval_steps}/{@code save_steps} (ratios of
 * the total); give step counts.
 */
public record TrainConfig(
        // run
        @Key(def = "trainer_output", doc = "folder of the run: checkpoints, metrics.jsonl, plots, train_config.json")
        Path outputDir,
        @Key(def = "false", doc = "(HF) start over in an output_dir that already holds a run, deleting its checkpoints and metrics")
        boolean overwriteOutputDir,
        @Key(doc = "the base model the artifacts were exported from (informational)")
        String modelNameOrPath,
        @Key(doc = "artifacts folder from export-artifacts (default: onnx-artifacts/demo)")
        Path artifactsDir,
        // data
        @Key(doc = "training data: RLHF-V or generic parquet, JSONL, or a hub dataset id")
        Path dataset,
        @Key(doc = "held-out data; when unset, test_size of dataset is held out")
        Path evalDataset,
        @Key(def = "0.1", doc = "fraction of dataset held out for evaluation, or a count of pairs when >= 1")
        double testSize,
        @Key(doc = "use at most this many training pairs")
        Integer maxTrainSamples,
        @Key(doc = "use at most this many held-out pairs")
        Integer maxEvalSamples,
        @Key(def = "512", doc = "resize images so the longest edge is at most this (null: the processor's own)")
        Integer imageLongestEdge,
        @Key(def = "1024", doc = "(TRL) longest prompt+completion in tokens; longer pairs are truncated")
        int maxLength,
        @Key(def = "512", doc = "(TRL) longest prompt in tokens (null: max_length / 2)")
        Integer maxPromptLength,
        @Key(doc = "(TRL) longest completion in tokens (null: what max_length leaves)")
        Integer maxCompletionLength,
        @Key(def = "keep_end", doc = "(TRL) which end of an over-long prompt is kept: keep_end or keep_start")
        TruncationMode truncationMode,
        // DPO
        @Key(def = "0.1", doc = "(TRL) DPO temperature: how far the policy may move from the reference")
        double beta,
        @Key(def = "sigmoid", doc = "(TRL) sigmoid, robust, hinge, ipo or apo_zero; fixed at export")
        DpoLossType lossType,
        @Key(def = "0", doc = "(TRL) cDPO/robust label smoothing in [0, 0.5); fixed at export")
        double labelSmoothing,
        @Key(def = "false", doc = "(TRL) drop the reference model from the loss; fixed at export")
        boolean referenceFree,
        @Key(def = "true", doc = "(TRL) compute every reference log-prob before training (cached on disk)")
        boolean precomputeRefLogProbs,
        // LoRA
        @Key(def = "8", doc = "(PEFT r) LoRA rank; fixed at export")
        int loraR,
        @Key(def = "8", doc = "(PEFT) LoRA alpha, adapters scaled by alpha / r; fixed at export")
        double loraAlpha,
        @Key(def = "0", doc = "(PEFT) dropout on the adapters' input; fixed at export")
        double loraDropout,
        @Key(def = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                doc = "(PEFT target_modules) module-name suffixes that get adapters; fixed at export")
        @JsonDeserialize(using = ConfigMapper.CommaList.class)
        List<String> loraTargetModules,
        @Key(def = "false", doc = "adapters on the text model only (the q/k/v defaults also match the vision tower); fixed at export")
        boolean loraTextOnly,
        // precision
        @Key(def = "fp32", doc = "fp32, bf16 or fp16: type of the frozen weights, matmuls and attention (LoRA, its "
                + "gradients and the optimizer stay fp32); fixed at export; bf16 and fp16 train with device cuda only")
        Precision precision,
        @Key(def = "none", doc = "none, attention, vision or layers: activations the backward pass recomputes instead of keeping "
                + "them (layers is HF's gradient_checkpointing); fixed at export (export-artifacts --recompute)")
        ActivationRecompute recompute,
        // optimisation
        @Key(def = "1e-4", doc = "(HF) peak learning rate of AdamW")
        double learningRate,
        @Key(def = "linear", doc = "(HF) linear, cosine, constant or constant_with_warmup")
        LrSchedulerType lrSchedulerType,
        @Key(def = "0", doc = "(HF) fraction of the steps spent warming up (when warmup_steps is 0)")
        double warmupRatio,
        @Key(def = "0", doc = "(HF) warmup steps; wins over warmup_ratio when positive")
        int warmupSteps,
        @Key(def = "3", doc = "(HF) passes over the training pairs (when max_steps is -1)")
        double numTrainEpochs,
        @Key(def = "-1", doc = "(HF) optimizer steps of the run; -1: from num_train_epochs")
        long maxSteps,
        @Key(def = "1", doc = "(HF) pairs per micro-batch")
        int perDeviceTrainBatchSize,
        @Key(def = "4", doc = "(HF) pairs per evaluation and reference batch")
        int perDeviceEvalBatchSize,
        @Key(def = "8", doc = "(HF) micro-batches per optimizer step")
        int gradientAccumulationSteps,
        @Key(def = "1.0", doc = "(HF) clip the global gradient norm to this; 0: no clipping")
        double maxGradNorm,
        @Key(def = "0", doc = "(HF) AdamW decoupled weight decay")
        double weightDecay,
        @Key(def = "0.9", doc = "(HF) AdamW beta1")
        double adamBeta1,
        @Key(def = "0.999", doc = "(HF) AdamW beta2")
        double adamBeta2,
        @Key(def = "1e-8", doc = "(HF) AdamW epsilon")
        double adamEpsilon,
        @Key(def = "42", doc = "(HF) seed of the run")
        long seed,
        @Key(doc = "(HF) seed of the data split and order (null: seed)")
        Long dataSeed,
        // logging, evaluation, checkpoints
        @Key(def = "10", doc = "(HF) log the training metrics every this many steps")
        int loggingSteps,
        @Key(def = "false", doc = "(HF) also log the first step")
        boolean loggingFirstStep,
        @Key(def = "epoch", doc = "(HF) when to evaluate on the held-out pairs: no, steps or epoch (and at the last step)")
        IntervalStrategy evalStrategy,
        @Key(doc = "(HF) evaluate every this many steps with eval_strategy steps (null: logging_steps)")
        Integer evalSteps,
        @Key(def = "false", doc = "(HF) evaluate before the first step")
        boolean evalOnStart,
        @Key(def = "steps", doc = "(HF) when to save checkpoints: no, steps or epoch (the last step is always saved)")
        IntervalStrategy saveStrategy,
        @Key(def = "500", doc = "(HF) save a checkpoint every this many steps")
        int saveSteps,
        @Key(doc = "(HF) keep at most this many checkpoints (null: all)")
        Integer saveTotalLimit,
        @Key(doc = "(HF) resume from 'latest' (the newest checkpoint in output_dir) or a checkpoint folder")
        String resumeFromCheckpoint,
        // runtime
        @Key(def = "cpu", doc = "cpu, or cuda with the -Port-gpu build")
        Device device,
        @Key(def = "0", doc = "ONNX Runtime intra-op threads; 0: ONNX Runtime's default")
        int threads,
        @Key(def = "shared_prefix", doc = "shared_prefix (one row per pair) or concatenated (TRL's two rows)")
        DpoLayout layout,
        @Key(def = "10", doc = "stop after this many optimizer steps in a row skipped for a non-finite loss")
        int maxNonfiniteSteps,
        @Key(def = "10", doc = "stop when this many optimizer steps in a row had no usable pair before any update "
                + "(the settings do not fit the data, e.g. prompts longer than max_length)")
        int maxEmptySteps) {

    /** HF {@code lr_scheduler_type} values supported (see {@link LrSchedule}). */
    public enum LrSchedulerType { LINEAR, COSINE, CONSTANT, CONSTANT_WITH_WARMUP }

    /** TRL {@code truncation_mode}: which end of an over-long prompt is kept. */
    public enum TruncationMode { KEEP_END, KEEP_START }

    /** HF {@code eval_strategy} / {@code save_strategy}. */
    public enum IntervalStrategy { NO, STEPS, EPOCH }

    /** Where ORT runs. */
    public enum Device { CPU, CUDA }

    /**
     * Keys that do not change what is trained, left out of {@link #hash()}: where and how often things
     * are written or evaluated, and the machine it runs on.
     */
    public static final Set<String> NOT_HASHED = Set.of("output_dir", "overwrite_output_dir", "resume_from_checkpoint",
            "threads", "device", "logging_steps", "logging_first_step", "eval_strategy", "eval_steps", "eval_on_start",
            "per_device_eval_batch_size", "max_eval_samples", "save_strategy", "save_steps", "save_total_limit",
            "max_nonfinite_steps", "max_empty_steps", "artifacts_dir", "model_name_or_path");

public TrainConfig {
        loraTargetModules = loraTargetModules == null ? null : List.copyOf(loraTargetModules);
        require(outputDir != null, "output_dir must be set");
        require(testSize >= 0 && (testSize < 1 || (testSize == Math.rint(testSize) && testSize < Integer.MAX_VALUE)),
                "test_size must be a fraction in [0, 1) or a whole number of pairs, got " + testSize);
        requirePositive("max_train_samples", maxTrainSamples);
        requirePositive("max_eval_samples", maxEvalSamples);
        requirePositive("image_longest_edge", imageLongestEdge);
        require(maxLength > 0, "max_length must be positive, got " + maxLength);
        requirePositive("max_prompt_length", maxPromptLength);
        requirePositive("max_completion_length", maxCompletionLength);
        require(maxPromptLength == null || maxPromptLength < maxLength,
                "max_prompt_length (" + maxPromptLength + ") must be less than max_length (" + maxLength
                        + "): set max_prompt_length too (e.g. --max-prompt-length " + Math.max(1, maxLength / 2) + ")");
        require(truncationMode != null, "truncation_mode must be set");
        require(beta > 0 && Double.isFinite(beta), "beta must be positive, got " + beta);
        require(lossType != null, "loss_type must be set");
        require(labelSmoothing >= 0 && labelSmoothing < 0.5, "label_smoothing must be in [0, 0.5), got " + labelSmoothing);
        require(loraR > 0, "lora_r must be positive, got " + loraR);
        require(loraAlpha > 0 && Double.isFinite(loraAlpha), "lora_alpha must be positive, got " + loraAlpha);
        require(loraDropout >= 0 && loraDropout < 1, "lora_dropout must be in [0, 1), got " + loraDropout);
        require(loraTargetModules != null && !loraTargetModules.isEmpty(), "lora_target_modules must not be empty");
        for (String m : loraTargetModules) {
            require(m != null && !m.isBlank(), "lora_target_modules has an empty entry: " + loraTargetModules);
        }
        require(precision != null, "precision must be set (fp32, bf16 or fp16)");
        // "--recompute none" reaches here as null: a flag value of none clears a key, and for this key means NONE
        recompute = recompute == null ? ActivationRecompute.NONE : recompute;
        require(learningRate >= 0 && Double.isFinite(learningRate), "learning_rate must be >= 0, got " + learningRate);
        require(lrSchedulerType != null, "lr_scheduler_type must be set");
        require(warmupRatio >= 0 && warmupRatio <= 1, "warmup_ratio must be in [0, 1], got " + warmupRatio);
        require(warmupSteps >= 0, "warmup_steps must be >= 0, got " + warmupSteps);
        require(maxSteps == -1 || maxSteps > 0, "max_steps must be -1 (train for num_train_epochs) or positive, got " + maxSteps);
        require(maxSteps > 0 || (numTrainEpochs > 0 && Double.isFinite(numTrainEpochs)),
                "num_train_epochs must be positive when max_steps is -1, got " + numTrainEpochs);
        require(numTrainEpochs >= 0 && Double.isFinite(numTrainEpochs), "num_train_epochs must be >= 0, got " + numTrainEpochs);
        require(perDeviceTrainBatchSize > 0, "per_device_train_batch_size must be positive, got " + perDeviceTrainBatchSize);
        require(perDeviceEvalBatchSize > 0, "per_device_eval_batch_size must be positive, got " + perDeviceEvalBatchSize);
        require(gradientAccumulationSteps > 0, "gradient_accumulation_steps must be positive, got " + gradientAccumulationSteps);
        require(maxGradNorm >= 0 && Double.isFinite(maxGradNorm), "max_grad_norm must be >= 0 (0 = no clipping), got " + maxGradNorm);
        require(weightDecay >= 0 && Double.isFinite(weightDecay), "weight_decay must be >= 0, got " + weightDecay);
        require(adamBeta1 >= 0 && adamBeta1 < 1, "adam_beta1 must be in [0, 1), got " + adamBeta1);
        require(adamBeta2 >= 0 && adamBeta2 < 1, "adam_beta2 must be in [0, 1), got " + adamBeta2);
        require(adamEpsilon > 0 && Double.isFinite(adamEpsilon), "adam_epsilon must be positive, got " + adamEpsilon);
        require(loggingSteps > 0, "logging_steps must be positive, got " + loggingSteps);
        require(evalStrategy != null, "eval_strategy must be set");
        requirePositive("eval_steps", evalSteps);
        require(saveStrategy != null, "save_strategy must be set");
        require(saveSteps > 0, "save_steps must be positive, got " + saveSteps);
        requirePositive("save_total_limit", saveTotalLimit);
        require(device != null, "device must be set");
        require(threads >= 0, "threads must be >= 0 (0 = ONNX Runtime's default), got " + threads);
        require(layout != null, "layout must be set");
        require(maxNonfiniteSteps >= 0, "max_nonfinite_steps must be >= 0, got " + maxNonfiniteSteps);
        require(maxEmptySteps > 0, "max_empty_steps must be positive, got " + maxEmptySteps);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new ConfigException(message);
        }
    }

    private static void requirePositive(String key, Integer value) {
        require(value == null || value > 0, key + " must be positive (or null), got " + value);
    }

    // ---------------------------------------------------------------- keys, reading, writing

    /** The general defaults (see the class comment for where they differ from TRL/HF). */
    public static TrainConfig defaults() {
        return ConfigKeys.DEFAULTS;
    }

    /** Every key, in declaration order. */
    public static List<String> keys() {
        return ConfigKeys.names();
    }

    /** Reads a {@code .json} file, or YAML for any other extension, over the general defaults. */
    public static TrainConfig load(Path file) {
        return ConfigLayers.defaults().file(file).bind();
    }

    /** Parses JSON text over the general defaults. */
    public static TrainConfig fromJson(String json) {
        return ConfigLayers.defaults().text(json, "config JSON", true).bind();
    }

    /** Parses YAML text over the general defaults. */
    public static TrainConfig fromYaml(String yaml) {
        return ConfigLayers.defaults().text(yaml, "config YAML", false).bind();
    }

    /**
     * This configuration with command-line values applied on top ({@code --per-device-train-batch-size}
     * or {@code per_device_train_batch_size}; {@code null}/{@code none} clears a nullable key; lists are
     * comma-separated).
     */
    public TrainConfig withOverrides(Map<String, String> overrides) {
        return overrides.isEmpty() ? this : ConfigLayers.of(this, "base").flags(overrides).bind();
    }

    /** Key → value (Java types: Path, String, Integer, Long, Double, Boolean, enum, List), every key. */
    public Map<String, Object> values() {
        return ConfigKeys.values(this);
    }

    /** The value of one key. */
    public Object get(String key) {
        return ConfigKeys.get(this, key);
    }

    /** Pretty JSON of every key; {@link #fromJson(String)} reads it back to an equal record. */
    public String toJson() {
        return ConfigKeys.toJson(ConfigKeys.toTree(this));
    }

    /** SHA-256 (hex) of the keys that change what is trained: everything but {@link #NOT_HASHED}. */
    public String hash() {
        return ConfigKeys.hash(this, NOT_HASHED);
    }

    // ---------------------------------------------------------------- derived quantities

    /** The seed of the data order and split: {@code data_seed}, or {@code seed} when unset (HF). */
    public long effectiveDataSeed() {
        return dataSeed != null ? dataSeed : seed;
    }

    /** Evaluation interval in optimizer steps when {@code eval_strategy} is steps: {@code eval_steps}, else {@code logging_steps} (HF). */
    public int effectiveEvalSteps() {
        return evalSteps != null ? evalSteps : loggingSteps;
    }

    /** Pairs held out of {@code n} for evaluation: ceil(n x test_size) for a fraction, else test_size itself (HF datasets). */
    public long testCount(long n) {
        if (testSize == 0) {
            return 0;
        }
        if (testSize >= 1) {
            return (long) testSize;
        }
        return (long) Math.ceil(n * testSize);
    }

    /** The step and epoch arithmetic of a run over {@code trainPairs} training pairs. */
    public TrainingPlan plan(long trainPairs) {
        return TrainingPlan.of(this, trainPairs);
    }

    /** The LoRA settings for the exporter. */
    public LoraConfig loraConfig() {
        return new LoraConfig(loraR, loraAlpha, loraDropout, loraTargetModules, loraTextOnly);
    }

    /** The loss settings baked into the graphs (β is a run-time input). */
    public DpoConfig dpoConfig() {
        return new DpoConfig(lossType, labelSmoothing, referenceFree);
    }

    /** AdamW settings baked into the optimizer graph (the learning rate is set per step). */
    public AdamWConfig adamWConfig() {
        return new AdamWConfig(adamBeta1, adamBeta2, adamEpsilon, weightDecay, maxGradNorm);
    }

    @Override
    public String toString() {
        return "TrainConfig" + values();
    }
}
