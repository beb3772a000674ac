package dev.smoldpo.artifacts;

/**
 * AdamW hyper-parameters baked into optimizer_model.onnx (the learning rate is set at run time); the
 * update is torch.optim.AdamW's, as HF Trainer's default {@code adamw_torch} runs it (see
 * {@code ArtifactBuilder.optimizerGraph}). Defaults are torch.optim.AdamW's: β1 0.9, β2 0.999,
 * ε 1e-8, weight decay 0.01 ({@code fit} passes TrainingArguments' own values, weight_decay 0 by
 * default). {@code maxGradNorm} > 0 adds torch.nn.utils.clip_grad_norm_ over all gradients first.
 */
public record AdamWConfig(double beta1, double beta2, double epsilon, double weightDecay, double maxGradNorm) {
    public static final AdamWConfig DEFAULT = new AdamWConfig(0.9, 0.999, 1e-8, 0.01, 0.0);

    public AdamWConfig {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("AdamW betas must be in [0, 1): " + beta1 + ", " + beta2);
        }
        if (!(epsilon > 0) || weightDecay < 0 || maxGradNorm < 0) {
            throw new IllegalArgumentException("AdamW needs epsilon > 0, weight_decay >= 0, max_grad_norm >= 0");
        }
    }

    public AdamWConfig withMaxGradNorm(double norm) {
        return new AdamWConfig(beta1, beta2, epsilon, weightDecay, norm);
    }

    public AdamWConfig withEpsilon(double eps) {
        return new AdamWConfig(beta1, beta2, eps, weightDecay, maxGradNorm);
    }

    public AdamWConfig withWeightDecay(double decay) {
        return new AdamWConfig(beta1, beta2, epsilon, decay, maxGradNorm);
    }
}
