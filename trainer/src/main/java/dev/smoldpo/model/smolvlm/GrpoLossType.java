package dev.smoldpo.model.smolvlm;

import java.util.Locale;

/**
 * How GRPO's per-token losses are aggregated, with TRL's names and normalisers (loss_type of
 * GRPOConfig; GRPOTrainer._compute_loss, trl/trainer/grpo_trainer.py). The graph sums each sequence's
 * masked per-token losses and divides by that sequence's entry of {@link GrpoInputs#LOSS_NORMALIZER};
 * {@link #normalizers} gives the entries that make the sum equal to TRL's loss of a micro-batch, so one
 * set of artifacts serves every type:
 * <ul>
 *   <li>grpo: mean over sequences of (Σ_t loss·mask / max(1, Σ_t mask)), / gradient accumulation steps;</li>
 *   <li>bnpo: Σ loss·mask / max(1, Σ mask over the micro-batch), / gradient accumulation steps;</li>
 *   <li>dr_grpo: Σ loss·mask / (sequences of the micro-batch · max_completion_length), / accumulation steps;</li>
 *   <li>dapo (TRL's default): Σ loss·mask / max(1, completion tokens of the whole optimizer step)
 *       ({@code num_items_in_batch}), not divided by the accumulation steps.</li>
 * </ul>
 */
public enum GrpoLossType {
    GRPO, BNPO, DR_GRPO, DAPO;

    /** TRL's default loss_type. */
    public static final GrpoLossType TRL_DEFAULT = DAPO;

    public String trlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static GrpoLossType fromTrl(String name) {
        for (GrpoLossType t : values()) {
            if (t.trlName().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown loss_type '" + name + "'; known: grpo, bnpo, dr_grpo, dapo");
    }

    /**
     * Each sequence's divisor for one micro-batch.
     *
     * @param completionTokens each sequence's masked completion token count, for this micro-batch
     * @param accumulationSteps micro-batches in the optimizer step (TRL's current_gradient_accumulation_steps)
     * @param maxCompletionLength GRPOConfig.max_completion_length (dr_grpo's constant)
     * @param stepTokens completion tokens in the whole optimizer step (dapo's num_items_in_batch)
     */
    public float[] normalizers(int[] completionTokens, int accumulationSteps, int maxCompletionLength, long stepTokens) {
        int n = completionTokens.length;
        long microTokens = 0;
        for (int c : completionTokens) {
            microTokens += c;
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double d = switch (this) {
                case GRPO -> Math.max(1, completionTokens[i]) * (double) n * accumulationSteps;
                case BNPO -> Math.max(1, microTokens) * (double) accumulationSteps;
                case DR_GRPO -> (double) n * maxCompletionLength * accumulationSteps;
                case DAPO -> Math.max(1, stepTokens);
            };
            out[i] = (float) d;
        }
        return out;
    }
}
