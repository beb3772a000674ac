package dev.smoldpo.grpo;

import dev.smoldpo.grpo.reward.GroupAdvantages;
import dev.smoldpo.grpo.sampling.SamplingSettings;
import dev.smoldpo.model.smolvlm.GrpoLossType;
import dev.smoldpo.train.config.ConfigException;
import dev.smoldpo.train.config.Key;
import dev.smoldpo.train.config.LrSchedule;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.config.TrainConfig.LrSchedulerType;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything {@code trainer.jar grpo} needs, with TRL GRPOConfig's (and HF TrainingArguments') names and
 * meanings; {@link GrpoSettings} binds the layers (defaults here, the demo recipe, a config file, flags).
 * As in TRL, per_device_train_batch_size counts completions: a micro-batch holds
 * per_device_train_batch_size / num_generations prompts with all their completions, and an optimizer step
 * gradient_accumulation_steps micro-batches. The learning rate follows HF's schedule (linear decay to 0 by
 * default) over the optimizer updates. Defaults are TRL's except learning_rate (1e-4 instead of
 * 1e-6: LoRA on small models, as for fit) and max_steps (a run length must be given: no epochs here).
 */
public record GrpoConfig(
        @Key(def = "trainer_output_grpo", doc = "folder of the run: checkpoints, metrics.jsonl, plots, grpo_config.json")
        Path outputDir,
        @Key(def = "false", doc = "(HF) start over in an output_dir that already holds a run")
        boolean overwriteOutputDir,
        @Key(doc = "checkpoint folder to resume from, or 'latest' (set by --resume)")
        String resumeFromCheckpoint,
        @Key(doc = "artifacts folder from export-artifacts --loss grpo (default: onnx-artifacts/grpo-demo for the demo)")
        Path artifactsDir,
        @Key(doc = "prompts with answers: JSONL with prompt, image and answer fields (default: the built-in demo)")
        Path dataset,
        @Key(def = "1e-4", doc = "(HF) peak AdamW learning rate")
        double learningRate,
        @Key(def = "linear", doc = "(HF) linear, cosine, constant or constant_with_warmup, over max_steps x num_iterations updates")
        String lrSchedulerType,
        @Key(def = "0", doc = "(HF) fraction of the updates spent warming up")
        double warmupRatio,
        @Key(def = "100", doc = "(HF) optimizer steps of the run")
        int maxSteps,
        @Key(def = "8", doc = "(HF) completions per micro-batch (a multiple of num_generations)")
        int perDeviceTrainBatchSize,
        @Key(def = "1", doc = "(HF) micro-batches per optimizer step")
        int gradientAccumulationSteps,
        @Key(def = "8", doc = "(TRL) completions sampled per prompt (G)")
        int numGenerations,
        @Key(def = "512", doc = "(TRL) longest completion sampled; dr_grpo's normaliser")
        int maxCompletionLength,
        @Key(def = "1.0", doc = "(TRL) sampling temperature; the loss divides the logits by it too")
        double temperature,
        @Key(def = "1.0", doc = "(TRL) nucleus sampling: smallest set of tokens with this probability")
        double topP,
        @Key(def = "0", doc = "(TRL) sample among the k likeliest tokens; 0 = off")
        int topK,
        @Key(def = "0.0", doc = "(TRL) KL weight; > 0 needs artifacts exported with --kl")
        double beta,
        @Key(def = "0.2", doc = "(TRL) clipping: ratios below 1 - epsilon are clipped")
        double epsilon,
        @Key(doc = "(TRL) upper clipping: ratios above 1 + epsilon_high are clipped (default: epsilon)")
        Double epsilonHigh,
        @Key(def = "dapo", doc = "(TRL) loss aggregation: grpo, bnpo, dr_grpo or dapo")
        String lossType,
        @Key(def = "group", doc = "(TRL) advantage scaling: group, batch or none")
        String scaleRewards,
        @Key(def = "1", doc = "(TRL) updates per sampled batch (mu); old log-probs from the sampling policy")
        int numIterations,
        @Key(def = "exact_match", doc = "reward functions: exact_match, normalised_match, multiple_choice, "
                + "numeric[:tolerance] (against the answer field), format:<regex> (the whole completion matches), or "
                + "cmd:<command line> (JSON lines in, one score per line out)")
        List<String> rewardFuncs,
        @Key(doc = "(TRL) weight of each reward function (default: 1 each)")
        List<Double> rewardWeights,
        @Key(def = "30", doc = "seconds a reward command may take to answer one batch")
        int rewardTimeoutSeconds,
        @Key(def = "", doc = "text appended after the generation prompt, which completions continue (e.g. 'It is')")
        String answerPrefix,
        @Key(def = "42", doc = "(HF) seed of prompt order and sampling")
        long seed,
        @Key(def = "10", doc = "(HF) log every N steps")
        int loggingSteps,
        @Key(def = "50", doc = "(HF) checkpoint every N steps (and at the end)")
        int saveSteps,
        @Key(doc = "(HF) checkpoints to keep (default: all)")
        Integer saveTotalLimit,
        @Key(def = "20", doc = "(HF) greedy held-out accuracy every N steps (0 = only at start and end)")
        int evalSteps,
        @Key(def = "64", doc = "held-out prompts for the greedy accuracy")
        int evalSamples,
        @Key(def = "cpu", doc = "cpu, or cuda with the -Port-gpu build (training, reference and sampling sessions)")
        String device,
        @Key(def = "0", doc = "ORT intra-op threads (0 = ORT's default)")
        int threads,
        @Key(doc = "longest image edge before tiling (default: the processor's)")
        Integer imageLongestEdge) {

    public GrpoConfig {
        positive("learning_rate", learningRate);
        positive("max_steps", maxSteps);
        if (numGenerations < 2) {
            // as TRL's GRPOConfig: a group of one has advantage 0 (its reward minus the group's mean), so nothing is learned
            throw new ConfigException("num_generations must be at least 2, got " + numGenerations + ": each completion is "
                    + "scored against the others of its prompt's group");
        }
        positive("gradient_accumulation_steps", gradientAccumulationSteps);
        positive("num_iterations", numIterations);
        positive("logging_steps", loggingSteps);
        positive("save_steps", saveSteps);
        if (perDeviceTrainBatchSize < numGenerations || perDeviceTrainBatchSize % numGenerations != 0) {
            throw new ConfigException("per_device_train_batch_size (" + perDeviceTrainBatchSize
                    + ") must be a positive multiple of num_generations (" + numGenerations + ")");
        }
        if (beta < 0 || epsilon < 0 || epsilonHigh != null && epsilonHigh < 0) {
            throw new ConfigException("beta, epsilon and epsilon_high must be >= 0");
        }
        new SamplingSettings(temperature, topP, topK, maxCompletionLength, numGenerations, seed); // checks the ranges
        GrpoLossType.fromTrl(lossType);
        scaleOf(scaleRewards); // (fields are assigned after the compact constructor: check the parameter)
        deviceOf(device);
        if (rewardFuncs == null || rewardFuncs.isEmpty()) {
            throw new ConfigException("reward_funcs: at least one reward function is needed");
        }
        if (rewardWeights != null && rewardWeights.size() != rewardFuncs.size()) {
            throw new ConfigException("reward_weights has " + rewardWeights.size() + " weights for " + rewardFuncs.size()
                    + " reward_funcs");
        }
    }

    private static void positive(String key, double v) {
        if (!(v > 0)) {
            throw new ConfigException(key + " must be > 0, got " + v);
        }
    }

    public GroupAdvantages.Scale scale() {
        return scaleOf(scaleRewards);
    }

    private static GroupAdvantages.Scale scaleOf(String scaleRewards) {
        return switch (scaleRewards) {
            case "group", "true" -> GroupAdvantages.Scale.GROUP;
            case "batch" -> GroupAdvantages.Scale.BATCH;
            case "none", "false" -> GroupAdvantages.Scale.NONE;
            default -> throw new ConfigException("scale_rewards must be group, batch or none, got '" + scaleRewards + "'");
        };
    }

    /** Whether every reward compares completions with the row's answer, so a prompt without one cannot be scored. */
    public boolean everyRewardReadsTheAnswer() {
        return rewardFuncs.stream().allMatch(GrpoRewards::readsAnswer);
    }

    /** Whether the sessions run on ORT's CUDA execution provider. */
    public boolean cuda() {
        return deviceOf(device) == TrainConfig.Device.CUDA;
    }

    /** The same devices, and the same names, as fit's device key. */
    private static TrainConfig.Device deviceOf(String device) {
        return switch (device == null ? "" : device.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "cpu" -> TrainConfig.Device.CPU;
            case "cuda" -> TrainConfig.Device.CUDA;
            default -> throw new ConfigException("device must be cpu or cuda, got '" + device + "'");
        };
    }

    public double epsilonHighOrDefault() {
        return epsilonHigh == null ? epsilon : epsilonHigh;
    }

    public GrpoLossType loss() {
        return GrpoLossType.fromTrl(lossType);
    }

    /** HF's learning-rate schedule over the run's optimizer updates (max_steps x num_iterations). */
    public LrSchedule schedule() {
        LrSchedulerType type;
        try {
            type = LrSchedulerType.valueOf(lrSchedulerType.strip().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("lr_scheduler_type must be linear, cosine, constant or constant_with_warmup, not '"
                    + lrSchedulerType + "'");
        }
        long updates = (long) maxSteps * numIterations;
        return LrSchedule.of(type, learningRate, updates, LrSchedule.warmupSteps(updates, 0, warmupRatio));
    }

    public SamplingSettings sampling() {
        return new SamplingSettings(temperature, topP, topK, maxCompletionLength, numGenerations, seed);
    }

    /** Prompts per micro-batch. */
    public int promptsPerMicroBatch() {
        return perDeviceTrainBatchSize / numGenerations;
    }

    public double[] weights() {
        double[] w = new double[rewardFuncs.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = rewardWeights == null ? 1 : rewardWeights.get(i);
        }
        return w;
    }
}
