package dev.smoldpo.infer;

/** Log-probabilities of tokens from rows of logits. */
public final class LogProbs {
    private LogProbs() {}

    /** log softmax(row {@code row} of [rows, vocab] logits)[token], computed stably (the row's max subtracted). */
    public static double of(float[] logits, int row, int vocab, long token) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            max = Math.max(max, logits[row * vocab + v]);
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            sum += Math.exp(logits[row * vocab + v] - max);
        }
        return logits[row * vocab + (int) token] - max - Math.log(sum);
    }
}
