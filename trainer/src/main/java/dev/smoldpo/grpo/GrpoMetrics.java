package dev.smoldpo.grpo;

import dev.smoldpo.grpo.reward.GroupAdvantages;
import dev.smoldpo.grpo.reward.Reward;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.MetricsPlots;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * GRPO's logged metrics with TRL's names (GRPOTrainer._generate_and_score_completions and _compute_loss):
 * loss, reward, reward_std, rewards/&lt;name&gt;/mean and /std, frac_reward_zero_std, completions/mean_length,
 * min_length, max_length, kl (β &gt; 0), clip_ratio/low_mean, high_mean, region_mean, low_min, high_max, plus
 * learning_rate and throughput (sampling and training tokens per second). Each is the mean of its per-step
 * (per micro-batch for the loss metrics) values over the logging window, as TRL's log averages them;
 * eval_accuracy is the greedy held-out accuracy.
 */
final class GrpoMetrics {
    static final String EVAL_ACCURACY = "eval_accuracy";

    private final GrpoConfig config;
    private final Map<String, List<Double>> window = new LinkedHashMap<>();

    GrpoMetrics(GrpoConfig config) {
        this.config = config;
    }

    /**
     * Each reward's name in the metric keys: its own (TRL's reward function name), numbered from 1 where
     * several share one (two cmd: rewards are cmd_1 and cmd_2, not one pooled cmd).
     */
    static List<String> metricNames(List<Reward> rewards) {
        Map<String, Long> uses = new java.util.HashMap<>();
        rewards.forEach(r -> uses.merge(r.name(), 1L, Long::sum));
        Map<String, Integer> seen = new java.util.HashMap<>();
        List<String> names = new java.util.ArrayList<>();
        for (Reward r : rewards) {
            int n = seen.merge(r.name(), 1, Integer::sum);
            names.add(uses.get(r.name()) > 1 ? r.name() + "_" + n : r.name());
        }
        return names;
    }

    void rewards(List<Reward> rewards, List<double[]> perReward, GroupAdvantages.Result adv) {
        add("reward", nanMean(adv.rewards()));
        add("reward_std", nanStd(adv.rewards()));
        List<String> names = metricNames(rewards);
        for (int k = 0; k < rewards.size(); k++) {
            add("rewards/" + names.get(k) + "/mean", nanMean(perReward.get(k)));
            add("rewards/" + names.get(k) + "/std", nanStd(perReward.get(k)));
        }
        double zero = 0;
        for (double s : adv.std()) {
            zero += Math.abs(s) < 1e-8 ? 1 : 0;
        }
        add("frac_reward_zero_std", zero / adv.std().length);
    }

    void add(long step, List<GrpoStepRunner.ScoredGroup> groups, GrpoStepRunner.Result r, double learningRate,
             double samplingSeconds,
             double trainSeconds) {
        List<Double> lengths = new ArrayList<>();
        for (GrpoStepRunner.ScoredGroup g : groups) {
            g.sampled().completionIds().forEach(ids -> lengths.add((double) ids.length));
        }
        add("loss", r.loss());
        add("completions/mean_length", lengths.stream().mapToDouble(d -> d).average().orElse(Double.NaN));
        add("completions/min_length", lengths.stream().mapToDouble(d -> d).min().orElse(Double.NaN));
        add("completions/max_length", lengths.stream().mapToDouble(d -> d).max().orElse(Double.NaN));
        for (GrpoLossMetrics m : r.metrics()) {
            if (config.beta() > 0) {
                add("kl", m.kl());
            }
            add("clip_ratio/low_mean", m.lowMean());
            add("clip_ratio/high_mean", m.highMean());
            add("clip_ratio/region_mean", m.regionMean());
            add("clip_ratio/low_min", m.lowMin());
            add("clip_ratio/high_max", m.highMax());
        }
        add("learning_rate", learningRate); // the rate of this step's update, as HF logs it
        add("sampling_tokens_per_second", r.completionTokens() / samplingSeconds);
        // the training graphs process every completion token num_iterations times, plus one forward for the old log-probs
        add("train_tokens_per_second", r.completionTokens() * config.numIterations() / trainSeconds);
    }

    private void add(String key, double value) {
        window.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
    }

    void log(MetricsLog log, long step, double epoch, PrintStream out) throws IOException {
        Map<String, Object> record = new LinkedHashMap<>();
        window.forEach((k, v) -> record.put(k, v.stream().mapToDouble(d -> d).filter(d -> !Double.isNaN(d)).average()
                .orElse(Double.NaN)));
        window.clear();
        log.log(step, epoch, record);
        out.printf("step %d: loss %.4f | reward %.3f | mean length %.2f | sampling %.0f tok/s | training %.0f tok/s%n", step,
                (double) record.get("loss"), (double) record.get("reward"), (double) record.get("completions/mean_length"),
                (double) record.get("sampling_tokens_per_second"), (double) record.get("train_tokens_per_second"));
    }

    void logEval(MetricsLog log, long step, double epoch, double accuracy, PrintStream out) throws IOException {
        log.log(step, epoch, Map.of(EVAL_ACCURACY, accuracy));
        out.printf("step %d: greedy held-out accuracy %.3f%n", step, accuracy);
    }

    void plots(Path dir) throws IOException {
        List<MetricsLog.Record> records = MetricsLog.read(dir.resolve(MetricsLog.FILE_NAME));
        List<Path> written = new ArrayList<>();
        MetricsPlots.plot(dir.resolve("reward.png"), "GRPO reward (weighted sum, mean over completions)", "reward",
                "reward", records, written);
        MetricsPlots.plot(dir.resolve("accuracy.png"), "Greedy held-out accuracy", "accuracy", "accuracy", records, written);
        MetricsPlots.plot(dir.resolve("loss.png"), "GRPO loss", "loss", "loss", records, written);
    }

    /** eval_accuracy by step, from the run's metrics.jsonl (so a resumed run reports its whole curve). */
    Map<Long, Double> accuracyCurve(Path dir) throws IOException {
        Map<Long, Double> curve = new TreeMap<>();
        for (MetricsLog.Record r : MetricsLog.read(dir.resolve(MetricsLog.FILE_NAME))) {
            r.get(EVAL_ACCURACY).ifPresent(a -> curve.put(r.step(), a));
        }
        return curve;
    }

    static double nanMean(double[] v) {
        return java.util.Arrays.stream(v).filter(d -> !Double.isNaN(d)).average().orElse(Double.NaN);
    }

    /** torch.std (Bessel-corrected) over the non-NaN values, as TRL's nanstd. */
    static double nanStd(double[] v) {
        double[] kept = java.util.Arrays.stream(v).filter(d -> !Double.isNaN(d)).toArray();
        if (kept.length < 2) {
            return Double.NaN;
        }
        double mean = nanMean(kept);
        double ss = 0;
        for (double d : kept) {
            ss += (d - mean) * (d - mean);
        }
        return Math.sqrt(ss / (kept.length - 1));
    }
}
