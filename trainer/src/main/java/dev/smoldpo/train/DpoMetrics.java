package dev.smoldpo.train;

import dev.smoldpo.nativelib.DpoResult;
import dev.smoldpo.train.support.MetricsLog;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Sums of the per-pair DPO quantities over a logging window or an evaluation pass, turned into
 * TRL's metric names (means over pairs).
 */
public final class DpoMetrics {
    private long pairs;
    private double loss;
    private double rewardsChosen;
    private double rewardsRejected;
    private double correct;
    private double logpsChosen;
    private double logpsRejected;
    private double logitsChosen;
    private double logitsRejected;

    /** Adds a batch: the native kernel's per-pair results plus the graph's mean logits. */
    public void add(DpoResult r, float[] policyChosen, float[] policyRejected, float[] logitsChosenMean, float[] logitsRejectedMean) {
        int n = r.losses().length;
        for (int i = 0; i < n; i++) {
            loss += r.losses()[i];
            rewardsChosen += r.rewardsChosen()[i];
            rewardsRejected += r.rewardsRejected()[i];
            correct += r.rewardsChosen()[i] > r.rewardsRejected()[i] ? 1 : 0;
            logpsChosen += policyChosen[i];
            logpsRejected += policyRejected[i];
            logitsChosen += logitsChosenMean[i];
            logitsRejected += logitsRejectedMean[i];
        }
        pairs += n;
    }

    /** Adds another window's sums. */
    public void addAll(DpoMetrics o) {
        pairs += o.pairs;
        loss += o.loss;
        rewardsChosen += o.rewardsChosen;
        rewardsRejected += o.rewardsRejected;
        correct += o.correct;
        logpsChosen += o.logpsChosen;
        logpsRejected += o.logpsRejected;
        logitsChosen += o.logitsChosen;
        logitsRejected += o.logitsRejected;
    }

    public long pairs() {
        return pairs;
    }

    public double meanLoss() {
        return loss / pairs;
    }

    public double accuracy() {
        return correct / pairs;
    }

    /** TRL-named means, with {@code prefix} ("" or "eval_"). */
    public Map<String, Double> toMap(String prefix) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (pairs == 0) {
            return m;
        }
        m.put(prefix + MetricsLog.LOSS, loss / pairs);
        m.put(prefix + MetricsLog.REWARDS_CHOSEN, rewardsChosen / pairs);
        m.put(prefix + MetricsLog.REWARDS_REJECTED, rewardsRejected / pairs);
        m.put(prefix + MetricsLog.REWARDS_ACCURACIES, correct / pairs);
        m.put(prefix + MetricsLog.REWARDS_MARGINS, (rewardsChosen - rewardsRejected) / pairs);
        m.put(prefix + MetricsLog.LOGPS_CHOSEN, logpsChosen / pairs);
        m.put(prefix + MetricsLog.LOGPS_REJECTED, logpsRejected / pairs);
        m.put(prefix + MetricsLog.LOGITS_CHOSEN, logitsChosen / pairs);
        m.put(prefix + MetricsLog.LOGITS_REJECTED, logitsRejected / pairs);
        return m;
    }
}
