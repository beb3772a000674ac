package dev.smoldpo.grpo.sampling;

/**
 * How GRPO samples its groups, with TRL's GRPOConfig names: {@code temperature}, {@code top_p},
 * {@code top_k} (0 = off), {@code max_completion_length}, {@code num_generations} (G, completions per
 * prompt) and {@code seed}. Tokens are drawn in Hugging Face's order: temperature, then top-k, then
 * top-p ({@link dev.smoldpo.infer.Sampler}).
 */
public record SamplingSettings(double temperature, double topP, int topK, int maxCompletionLength, int numGenerations,
                               long seed) {
    public SamplingSettings {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite and > 0 (GRPO samples), got " + temperature);
        }
        if (!(topP > 0) || topP > 1) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        }
        if (maxCompletionLength < 1) {
            throw new IllegalArgumentException("max_completion_length must be >= 1, got " + maxCompletionLength);
        }
        if (numGenerations < 1) {
            throw new IllegalArgumentException("num_generations must be >= 1, got " + numGenerations);
        }
    }

    /** TRL's GRPOConfig defaults: temperature 1, top_p 1, top_k off, max_completion_length 512, 8 generations, seed 42. */
    public static SamplingSettings trlDefaults() {
        return new SamplingSettings(1.0, 1.0, 0, 512, 8, 42);
    }
}
