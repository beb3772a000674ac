package dev.smoldpo.nativelib;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything the fused DPO kernel computes in one pass.
 *
 * @param losses          per-pair loss [B]
 * @param loss            mean loss
 * @param gradChosen      d loss / d policy_chosen_logps [B] (of the mean loss)
 * @param gradRejected    d loss / d policy_rejected_logps [B]
 * @param rewardsChosen   beta * (policy - reference) for chosen [B]
 * @param rewardsRejected beta * (policy - reference) for rejected [B]
 * @param margins         rewardsChosen - rewardsRejected [B]
 * @param accuracy        fraction of pairs with rewardsChosen > rewardsRejected
 * @param rewardsChosenMean   mean of rewardsChosen
 * @param rewardsRejectedMean mean of rewardsRejected
 * @param marginMean      mean of margins
 * @param logpsChosen     mean policy chosen log-prob (the summed one, for ipo too, as TRL logs it)
 * @param logpsRejected   mean policy rejected log-prob
 */
public record DpoResult(double[] losses, double loss, double[] gradChosen, double[] gradRejected,
                        double[] rewardsChosen, double[] rewardsRejected, double[] margins, double accuracy,
                        double rewardsChosenMean, double rewardsRejectedMean, double marginMean,
                        double logpsChosen, double logpsRejected) {

    /** TRL's metric names: loss, rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected. */
    public Map<String, Double> metrics() {
        return metrics("");
    }

    /** The same with a prefix, e.g. {@code "eval_"}. */
    public Map<String, Double> metrics(String prefix) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(prefix + "loss", loss);
        m.put(prefix + "rewards/chosen", rewardsChosenMean);
        m.put(prefix + "rewards/rejected", rewardsRejectedMean);
        m.put(prefix + "rewards/accuracies", accuracy);
        m.put(prefix + "rewards/margins", marginMean);
        m.put(prefix + "logps/chosen", logpsChosen);
        m.put(prefix + "logps/rejected", logpsRejected);
        return m;
    }

    public int batchSize() {
        return losses.length;
    }
}
