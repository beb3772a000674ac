package dev.smoldpo.train;

import dev.smoldpo.nativelib.DpoResult;
import dev.smoldpo.train.support.MetricsLog;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TRL's DPO metrics over a logging window or an evaluation pass, averaged the way TRL and HF Trainer
 * average them (TRL main, trl/trainer/dpo_trainer.py; transformers trainer.py):
 *
 * <ul>
 *   <li>Each micro-batch (one {@code _compute_loss} call: a gradient-accumulation micro-batch, or an
 *       evaluation batch) yields one value per metric: the mean over its pairs of rewards/chosen,
 *       rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen and logps/rejected, and
 *       for logits/chosen (logits/rejected) Σ over its chosen (rejected) completion tokens of the
 *       vocabulary-mean logit / the number of those tokens.</li>
 *   <li>The logged value is the plain mean of those per-micro-batch values over the window
 *       ({@code DPOTrainer.log}: sum(values) / len(values)), so micro-batches of unequal sizes weigh
 *       the same.</li>
 *   <li>{@code loss} is HF Trainer's: over a training window, the mean over optimizer steps of each
 *       step's mean over its micro-batches (training_step divides by the accumulation steps,
 *       logging by the steps since the last log); over an evaluation, the mean over pairs
 *       (evaluation_loop repeats each batch's loss batch-size times).</li>
 * </ul>
 */
public final class DpoMetrics {
    private long pairs;
    private long batches;
    private double pairLossSum;
    private double batchLossSum;
    private long steps;
    private double stepLossSum;
    // Σ over micro-batches of each micro-batch's value
    private double rewardsChosen;
    private double rewardsRejected;
    private double accuracies;
    private double margins;
    private double logpsChosen;
    private double logpsRejected;
    private double logitsChosen;
    private double logitsRejected;

    /**
     * Adds one micro-batch: the native kernel's per-pair results on the graph's log-probs, and the
     * graph's per-pair sums of vocabulary-mean logits with the completions' token counts.
     */
    public void add(DpoResult r, float[] policyChosen, float[] policyRejected, float[] chosenLogitSums,
                    float[] rejectedLogitSums, int[] chosenTokens, int[] rejectedTokens) {
        int n = r.losses().length;
        if (n == 0) {
            return;
        }
        double loss = 0;
        double rc = 0;
        double rr = 0;
        double correct = 0;
        double lc = 0;
        double lr = 0;
        for (int i = 0; i < n; i++) {
            loss += r.losses()[i];
            rc += r.rewardsChosen()[i];
            rr += r.rewardsRejected()[i];
            correct += r.rewardsChosen()[i] > r.rewardsRejected()[i] ? 1 : 0;
            lc += policyChosen[i];
            lr += policyRejected[i];
        }
        pairs += n;
        batches++;
        pairLossSum += loss;
        batchLossSum += loss / n;
        rewardsChosen += rc / n;
        rewardsRejected += rr / n;
        accuracies += correct / n;
        margins += (rc - rr) / n;
        logpsChosen += lc / n;
        logpsRejected += lr / n;
        logitsChosen += tokenMean(chosenLogitSums, chosenTokens);
        logitsRejected += tokenMean(rejectedLogitSums, rejectedTokens);
    }

    /** TRL: Σ logits / Σ tokens over the micro-batch, 0 when it has no token. */
    private static double tokenMean(float[] sums, int[] tokens) {
        double sum = 0;
        long count = 0;
        for (int i = 0; i < sums.length; i++) {
            sum += sums[i];
            count += tokens[i];
        }
        return count > 0 ? sum / count : 0.0;
    }

    /** Adds one optimizer step's micro-batches: they count into the metrics, and the step into the loss. */
    public void addStep(DpoMetrics step) {
        if (step.batches == 0) {
            return;
        }
        addAll(step);
        steps++;
        stepLossSum += step.batchLossSum / step.batches;
    }

    /** Adds another window's (or evaluation batch's) sums. */
    public void addAll(DpoMetrics o) {
        pairs += o.pairs;
        batches += o.batches;
        pairLossSum += o.pairLossSum;
        batchLossSum += o.batchLossSum;
        steps += o.steps;
        stepLossSum += o.stepLossSum;
        rewardsChosen += o.rewardsChosen;
        rewardsRejected += o.rewardsRejected;
        accuracies += o.accuracies;
        margins += o.margins;
        logpsChosen += o.logpsChosen;
        logpsRejected += o.logpsRejected;
        logitsChosen += o.logitsChosen;
        logitsRejected += o.logitsRejected;
    }

    public long pairs() {
        return pairs;
    }

    /** HF Trainer's loss: the mean over steps when steps were added ({@link #addStep}), else over pairs. */
    public double meanLoss() {
        return steps > 0 ? stepLossSum / steps : pairLossSum / pairs;
    }

    /** TRL-named metrics, with {@code prefix} ("" or "eval_"); empty when nothing was added. */
    public Map<String, Double> toMap(String prefix) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (batches == 0) {
            return m;
        }
        m.put(prefix + MetricsLog.LOSS, meanLoss());
        m.put(prefix + MetricsLog.REWARDS_CHOSEN, rewardsChosen / batches);
        m.put(prefix + MetricsLog.REWARDS_REJECTED, rewardsRejected / batches);
        m.put(prefix + MetricsLog.REWARDS_ACCURACIES, accuracies / batches);
        m.put(prefix + MetricsLog.REWARDS_MARGINS, margins / batches);
        m.put(prefix + MetricsLog.LOGPS_CHOSEN, logpsChosen / batches);
        m.put(prefix + MetricsLog.LOGPS_REJECTED, logpsRejected / batches);
        m.put(prefix + MetricsLog.LOGITS_CHOSEN, logitsChosen / batches);
        m.put(prefix + MetricsLog.LOGITS_REJECTED, logitsRejected / batches);
        return m;
    }
}
