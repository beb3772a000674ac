package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Value;

/**
 * What the DPO graphs read off the decoder: logits and log-softmax at the scored positions only (K per
 * row, not T: Liger-style, the full [T, V] logits are never made), each scored token's log-prob, and
 * their sums per pair over the chosen and the rejected completion (TRL's {@code concatenated_forward}
 * sums the completion tokens' log-probs; dpo_trainer.py).
 */
public final class DpoScoring {
    /**
     * Per-pair sums over the scored tokens: log-probs, token counts, and the vocabulary-mean logits
     * (see {@link SmolVlmInputs#CHOSEN_LOGITS_SUM}).
     */
    public record CompletionScores(Value chosenLogps, Value rejectedLogps, Value chosenLength, Value rejectedLength,
                                   Value chosenLogitsSum, Value rejectedLogitsSum) {}

    private DpoScoring() {}

    /** The scores of the pairs in {@code in} from the decoder's final hidden states [rows, T, D]. */
    public static CompletionScores of(SmolVlmGraph model, Value hidden, SmolVlmGraph.TextInputs in) {
        SmolVlmLayers layers = model.layers();
        Graph g = layers.graph();
        int d = layers.config().text().hiddenSize();
        Value selected = g.gather(g.reshape(hidden, -1, d), in.targetIndex(), 0);       // [rows, K, D]
        // the head's MatMul in the compute type; the log-softmax, the logit means and all sums in FLOAT
        Value logits = layers.toFloat(g.matMul(selected, layers.lmHead()));             // [rows, K, V]
        Value logp = g.logSoftmax(logits, -1);
        Value tokenLogp = g.squeeze(g.node("GatherElements").in(logp, g.unsqueeze(in.targetIds(), -1))
                .attr("axis", -1L).out(), -1);                                             // [rows, K]
        Value meanLogit = g.reduceMean(logits, false, -1);                                 // [rows, K]
        return new CompletionScores(
                perPair(g, tokenLogp, in.chosenWeight(), in.chosenRows()),
                perPair(g, tokenLogp, in.rejectedWeight(), in.rejectedRows()),
                perPair(g, null, in.chosenWeight(), in.chosenRows()),
                perPair(g, null, in.rejectedWeight(), in.rejectedRows()),
                perPair(g, meanLogit, in.chosenWeight(), in.chosenRows()),
                perPair(g, meanLogit, in.rejectedWeight(), in.rejectedRows()));
    }

    /** [pairs]: Σ over each pair's row of values·weight (or of the weights alone when values is null). */
    private static Value perPair(Graph g, Value values, Value weight, Value rowsOfPairs) {
        Value weighted = values == null ? weight : g.mul(values, weight);
        Value perRow = g.reduceSum(weighted, true, 1);                                     // [rows, 1]
        return g.squeeze(g.matMul(rowsOfPairs, perRow), 1);                               // [pairs]
    }
}
