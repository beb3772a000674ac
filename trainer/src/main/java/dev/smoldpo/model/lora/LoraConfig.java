package dev.smoldpo.model.lora;

import java.util.List;

/**
 * LoRA settings with PEFT's names: {@code r}, {@code lora_alpha} (the adapter output is scaled by
 * alpha / r), {@code lora_dropout}, and {@code target_modules} matched on module-name suffixes.
 * {@code textOnly} keeps adapters off the vision tower (whose q/k/v names also match by default).
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules, boolean textOnly) {
    /** PEFT's usual SmolVLM targets: every attention and MLP projection of the decoder. */
    public static final List<String> DEFAULT_TARGETS =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public LoraConfig {
        if (r <= 0) {
            throw new IllegalArgumentException("LoRA r must be positive, got " + r);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + dropout);
        }
        if (targetModules == null || targetModules.isEmpty()) {
            throw new IllegalArgumentException("target_modules is empty");
        }
        targetModules = List.copyOf(targetModules);
    }

    public static LoraConfig defaults(int r, double alpha) {
        return new LoraConfig(r, alpha, 0.0, DEFAULT_TARGETS, false);
    }

    public double scale() {
        return alpha / r;
    }
}
