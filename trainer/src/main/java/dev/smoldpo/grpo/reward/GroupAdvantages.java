package dev.smoldpo.grpo.reward;

import java.util.List;

/**
 * Rewards to advantages as TRL's GRPOTrainer does (trl/trainer/grpo_trainer.py, "sum_then_normalize"):
 * the weighted sum of the rewards (NaN ones left out; a completion no reward scores stays NaN), minus
 * its group's mean, divided by the standard deviation (Bessel-corrected, NaN-aware, as trl's nanstd) of
 * its group ({@code scale_rewards} "group"), of the whole batch ("batch") or not at all ("none"), plus
 * 1e-4; unscorable completions get advantage 0.
 */
public final class GroupAdvantages {
    /** TRL's {@code scale_rewards}. */
    public enum Scale { GROUP, BATCH, NONE }

    /**
     * @param rewards    the summed reward of each completion, groups of {@code generations} consecutive ones
     * @param advantages what each completion is pushed by
     * @param std        the standard deviation each was divided by (for the {@code frac_reward_zero_std} metric)
     */
    public record Result(double[] rewards, double[] advantages, double[] std) {}

    private GroupAdvantages() {}

    /**
     * @param perReward one score array per reward function, each with one score per completion
     * @param weights   one weight per reward function
     */
    public static Result of(List<double[]> perReward, double[] weights, int generations, Scale scale) {
        int n = perReward.getFirst().length;
        if (n % generations != 0) {
            throw new IllegalArgumentException(n + " completions are not whole groups of " + generations);
        }
        double[] rewards = new double[n];
        for (int i = 0; i < n; i++) {
            double sum = 0;
            boolean any = false;
            for (int k = 0; k < perReward.size(); k++) {
                double r = perReward.get(k)[i];
                if (!Double.isNaN(r)) {
                    sum += weights[k] * r;
                    any = true;
                }
            }
            rewards[i] = any ? sum : Double.NaN;
        }
        double[] std = new double[n];
        double batchStd = nanStd(rewards, 0, n);
        double[] advantages = new double[n];
        for (int g = 0; g < n; g += generations) {
            double mean = nanMean(rewards, g, g + generations);
            double groupStd = generations > 1 ? nanStd(rewards, g, g + generations) : 0;
            for (int i = g; i < g + generations; i++) {
                std[i] = scale == Scale.BATCH ? batchStd : groupStd;
                double a = rewards[i] - mean;
                if (scale != Scale.NONE) {
                    a /= std[i] + 1e-4;
                }
                advantages[i] = Double.isNaN(a) ? 0 : a;
            }
        }
        return new Result(rewards, advantages, std);
    }

    private static double nanMean(double[] v, int from, int to) {
        double sum = 0;
        int count = 0;
        for (int i = from; i < to; i++) {
            if (!Double.isNaN(v[i])) {
                sum += v[i];
                count++;
            }
        }
        return count == 0 ? Double.NaN : sum / count;
    }

    /** Bessel-corrected standard deviation over the non-NaN values (NaN for fewer than two). */
    private static double nanStd(double[] v, int from, int to) {
        double mean = nanMean(v, from, to);
        double sq = 0;
        int count = 0;
        for (int i = from; i < to; i++) {
            if (!Double.isNaN(v[i])) {
                sq += (v[i] - mean) * (v[i] - mean);
                count++;
            }
        }
        return count < 2 ? Double.NaN : Math.sqrt(sq / count * count / (count - 1));
    }
}
