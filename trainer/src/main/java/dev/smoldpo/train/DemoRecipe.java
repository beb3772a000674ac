package dev.smoldpo.train;

import dev.smoldpo.train.config.TrainConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The settings `fit` uses for the built-in demo (the tiny SmolVLM on the coloured-shapes task), on
 * top of the general defaults: small images (one tile), larger batches and learning rate than a
 * real model wants, frequent evaluation. A config file or flags still override them.
 */
public final class DemoRecipe {
    public static final int PAIRS = 512;
    public static final long DATA_SEED = 7;

    private DemoRecipe() {}

    public static Map<String, String> overrides() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("output_dir", "runs/demo");
        m.put("image_longest_edge", "32");
        m.put("learning_rate", "3e-3");
        m.put("lr_scheduler_type", "linear");
        m.put("warmup_ratio", "0.05");
        m.put("num_train_epochs", "6");
        m.put("per_device_train_batch_size", "8");
        m.put("per_device_eval_batch_size", "32");
        m.put("gradient_accumulation_steps", "1");
        m.put("beta", "0.1");
        m.put("test_size", "0.125");
        m.put("logging_steps", "10");
        m.put("eval_strategy", "steps");
        m.put("eval_steps", "40");
        m.put("eval_on_start", "true");
        m.put("save_steps", "100");
        m.put("save_total_limit", "2");
        m.put("max_length", "256");
        m.put("max_prompt_length", "128");
        return m;
    }

    public static TrainConfig config() {
        return TrainConfig.defaults().withOverrides(overrides());
    }
}
