package dev.smoldpo.grpo;

/**
 * The loss metrics TRL's GRPOTrainer._compute_loss logs for one micro-batch, computed on the host from
 * the graph's per-token log-probs (which the training step returns anyway) rather than as more graph
 * outputs: kl (masked mean of the k3 estimate, only with β ≠ 0) and clip_ratio/low_mean, high_mean,
 * region_mean (masked means over tokens), low_min and high_max (min / max over sequences of each
 * sequence's masked mean; sequences without tokens are left out, as nanmin / nanmax do).
 *
 * <p>Arrays are [seqs, C] row-major; {@code ref} is null without the KL term.
 */
public record GrpoLossMetrics(double kl, double lowMean, double highMean, double regionMean, double lowMin,
                              double highMax, double tokens) {

    public static GrpoLossMetrics of(float[] logps, float[] old, float[] ref, float[] mask, float[] advantages,
                                     double epsilonLow, double epsilonHigh) {
        int seqs = advantages.length;
        int c = mask.length / seqs;
        double klSum = 0;
        double lowSum = 0;
        double highSum = 0;
        double regionSum = 0;
        double tokens = 0;
        double lowMin = Double.NaN;
        double highMax = Double.NaN;
        for (int s = 0; s < seqs; s++) {
            double seqTokens = 0;
            double seqLow = 0;
            double seqHigh = 0;
            for (int t = 0; t < c; t++) {
                int i = s * c + t;
                double m = mask[i];
                double ratio = Math.exp((double) logps[i] - old[i]);
                boolean low = ratio < 1 - epsilonLow && advantages[s] < 0;
                boolean high = ratio > 1 + epsilonHigh && advantages[s] > 0;
                if (ref != null) {
                    double d = (double) ref[i] - logps[i];
                    klSum += (Math.exp(d) - d - 1) * m;
                }
                lowSum += low ? m : 0;
                highSum += high ? m : 0;
                regionSum += low || high ? m : 0;
                seqLow += low ? m : 0;
                seqHigh += high ? m : 0;
                seqTokens += m;
            }
            tokens += seqTokens;
            if (seqTokens > 0) {
                lowMin = Double.isNaN(lowMin) ? seqLow / seqTokens : Math.min(lowMin, seqLow / seqTokens);
                highMax = Double.isNaN(highMax) ? seqHigh / seqTokens : Math.max(highMax, seqHigh / seqTokens);
            }
        }
        double denominator = Math.max(1, tokens);
        return new GrpoLossMetrics(ref == null ? Double.NaN : klSum / denominator, lowSum / denominator,
                highSum / denominator, regionSum / denominator, lowMin, highMax, tokens);
    }
}
