package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Value;

/**
 * The DPO loss variants as graph ops (TRL's definitions, trl/trainer/dpo_trainer.py dpo_loss), over per-pair
 * log-probs. With z = β(Δc − Δr), Δ = log π − log π_ref, and log σ(x) = −softplus(−x):
 * sigmoid (1−ε)·softplus(−z) + ε·softplus(z); robust ((1−ε)·softplus(−z) − ε·softplus(z))/(1−2ε);
 * hinge relu(1 − z); ipo (Δc' − Δr' − 1/(2β))² on length-normalised log-probs; apo_zero
 * (1 − σ(βΔc)) + σ(βΔr). The batch loss is Σ pair_weight · loss_pair (the mean for weights 1/pairs).
 */
public final class DpoLossGraph {
    private DpoLossGraph() {}

    public static Value weightedLoss(Graph g, DpoConfig dpo, DpoScoring.CompletionScores s, Value refChosen,
                                     Value refRejected, Value beta, Value pairWeight) {
        Value chosen = s.chosenLogps();
        Value rejected = s.rejectedLogps();
        Value refC = refChosen;
        Value refR = refRejected;
        if (dpo.lossType() == DpoLossType.IPO) {
            chosen = g.div(chosen, s.chosenLength());
            rejected = g.div(rejected, s.rejectedLength());
            refC = refC == null ? null : g.div(refC, s.chosenLength());
            refR = refR == null ? null : g.div(refR, s.rejectedLength());
        }
        Value dc = refC == null ? chosen : g.sub(chosen, refC);
        Value dr = refR == null ? rejected : g.sub(rejected, refR);
        Value z = g.mul(beta, g.sub(dc, dr));
        double eps = dpo.labelSmoothing();
        Value losses = switch (dpo.lossType()) {
            case SIGMOID -> eps == 0 ? softplus(g, g.neg(z))
                    : g.add(scale(g, softplus(g, g.neg(z)), 1 - eps), scale(g, softplus(g, z), eps));
            case ROBUST -> scale(g, g.sub(scale(g, softplus(g, g.neg(z)), 1 - eps), scale(g, softplus(g, z), eps)),
                    1 / (1 - 2 * eps));
            case HINGE -> g.unary("Relu", g.sub(g.scalar(DType.FLOAT, 1), z));
            case IPO -> {
                Value gap = g.sub(g.sub(dc, dr), g.div(g.scalar(DType.FLOAT, 0.5), beta));
                yield g.mul(gap, gap);
            }
            case APO_ZERO -> g.add(g.sub(g.scalar(DType.FLOAT, 1), g.unary("Sigmoid", g.mul(beta, dc))),
                    g.unary("Sigmoid", g.mul(beta, dr)));
        };
        return g.reduceSum(g.mul(losses, pairWeight), false);
    }

    private static Value softplus(Graph g, Value x) {
        return g.unary("Softplus", x);
    }

    private static Value scale(Graph g, Value x, double factor) {
        return g.mul(x, g.scalar(DType.FLOAT, factor));
    }
}
