package dev.smoldpo.model.smolvlm;

/**
 * A direct transcription, in double precision, of GRPOTrainer._compute_loss (trl/trainer/grpo_trainer.py,
 * importance_sampling_level "token", no delta, no entropy mask) for the tests: the per-token clipped
 * objective, the k3 KL times β, and the aggregation of each loss_type with TRL's normalisers. Checked
 * against TRL's own run in {@link TrlGrpoFormulaTest}.
 */
record TrlGrpoFormula(String lossType, double beta, double epsilonLow, double epsilonHigh, int accumulationSteps,
                      int maxCompletionLength, long numItemsInBatch) {

    /** Arrays are [B, C] row-major; {@code old} null means old = per_token_logps.detach(). */
    double loss(float[] logps, float[] old, float[] ref, float[] mask, float[] advantages) {
        int b = advantages.length;
        int c = mask.length / b;
        double[] perToken = new double[mask.length];
        for (int i = 0; i < mask.length; i++) {
            double oldLogp = old == null ? logps[i] : old[i];
            double coef1 = Math.exp(logps[i] - oldLogp);
            double coef2 = Math.min(Math.max(coef1, 1 - epsilonLow), 1 + epsilonHigh);
            double a = advantages[i / c];
            perToken[i] = -Math.min(coef1 * a, coef2 * a);
            if (beta != 0) {
                double d = (double) ref[i] - logps[i];
                perToken[i] += beta * (Math.exp(d) - d - 1);
            }
        }
        double total = 0;
        double tokens = 0;
        double meanOfSequences = 0;
        for (int s = 0; s < b; s++) {
            double sum = 0;
            double n = 0;
            for (int t = 0; t < c; t++) {
                sum += perToken[s * c + t] * mask[s * c + t];
                n += mask[s * c + t];
            }
            total += sum;
            tokens += n;
            meanOfSequences += sum / Math.max(n, 1) / b;
        }
        return switch (lossType) {
            case "grpo" -> meanOfSequences / accumulationSteps;
            case "bnpo" -> total / Math.max(tokens, 1) / accumulationSteps;
            case "dr_grpo" -> total / ((double) b * maxCompletionLength) / accumulationSteps;
            case "dapo" -> total / Math.max(numItemsInBatch, 1);
            default -> throw new IllegalArgumentException(lossType);
        };
    }

    static int[] lengths(float[] mask, int sequences) {
        int c = mask.length / sequences;
        int[] lengths = new int[sequences];
        for (int i = 0; i < mask.length; i++) {
            lengths[i / c] += (int) mask[i];
        }
        return lengths;
    }
}
