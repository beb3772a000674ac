package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Value;

/**
 * GRPO's loss as graph ops, from per-token log-probs (our transcription of GRPOTrainer._compute_loss,
 * trl/trainer/grpo_trainer.py, for importance_sampling_level "token" and the clipped loss types):
 * <pre>
 *   ratio  = exp(logp − old_logp)
 *   loss_t = −min(ratio·A, clip(ratio, 1 − ε_low, 1 + ε_high)·A) + β·(exp(ref − logp) − (ref − logp) − 1)
 *   loss   = Σ_seq (Σ_t loss_t·mask) / normalizer_seq
 * </pre>
 * The KL term (k3 estimator) exists only when the graph has a reference ({@code ref} non-null). Log-ratios
 * are multiplied by the mask before exp: unchanged on counted tokens, and padding can never overflow
 * into inf·0 = NaN in the gradient.
 */
public final class GrpoLossGraph {
    private GrpoLossGraph() {}

    /** The per-token inputs the loss reads; {@code ref} and {@code beta} are null without the KL term. */
    public record Terms(Value perTokenLogps, Value mask, Value advantages, Value oldLogps, Value ref, Value beta,
                        Value epsilonLow, Value epsilonHigh, Value normalizer) {}

    public static Value loss(Graph g, Terms t) {
        Value one = g.scalar(DType.FLOAT, 1);
        Value advantage = g.unsqueeze(t.advantages(), 1);                                   // [seqs, 1]
        Value ratio = g.unary("Exp", g.mul(g.sub(t.perTokenLogps(), t.oldLogps()), t.mask()));
        Value low = g.sub(one, t.epsilonLow());
        Value high = g.add(one, t.epsilonHigh());
        // torch.clamp as two Wheres: the gradient passes where the ratio lies inside [low, high]
        Value clipped = g.where(g.node("Less").in(ratio, low).out(), low,
                g.where(g.node("Greater").in(ratio, high).out(), high, ratio));
        Value unclippedObjective = g.mul(ratio, advantage);
        Value clippedObjective = g.mul(clipped, advantage);
        Value perToken = g.neg(g.where(g.node("LessOrEqual").in(unclippedObjective, clippedObjective).out(),
                unclippedObjective, clippedObjective));
        if (t.ref() != null) {
            Value d = g.mul(g.sub(t.ref(), t.perTokenLogps()), t.mask());
            Value kl = g.sub(g.sub(g.unary("Exp", d), d), one);
            perToken = g.add(perToken, g.mul(t.beta(), kl));
        }
        Value perSequence = g.reduceSum(g.mul(perToken, t.mask()), false, 1);                // [seqs]
        return g.reduceSum(g.div(perSequence, t.normalizer()), false);
    }
}
