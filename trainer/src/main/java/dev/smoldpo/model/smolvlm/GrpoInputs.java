package dev.smoldpo.model.smolvlm;

/**
 * Names of the GRPO graphs' inputs and outputs beyond the shared ones of {@link SmolVlmInputs} (pixels,
 * patches, input_ids, position_ids, segment_ids, merge_index keep their meaning there).
 *
 * <p>Layout (shared prefix, generalised from DPO's two completions to G): one token row per prompt,
 * prompt | completion 1 | … | completion G, segment id 1 for the prompt and 1 + g for completion g; each
 * completion's positions restart after the prompt, and its tokens see only the prompt and themselves, so
 * the image and the prompt are encoded once for the whole group. Shapes: {@code seqs} completions of
 * the batch (prompts × G), {@code C} the longest completion; padding entries have mask 0.
 */
public final class GrpoInputs {
    private GrpoInputs() {}

    /** INT64 [seqs, C]: flat position (row·T + t) whose hidden state predicts each completion token. */
    public static final String TARGET_INDEX = SmolVlmInputs.TARGET_INDEX;
    /** INT64 [seqs, C]: the completion tokens (TRL's completion_ids). */
    public static final String COMPLETION_IDS = "completion_ids";
    /** FLOAT [seqs, C]: 1 for a completion token that counts in the loss (TRL's completion_mask). */
    public static final String COMPLETION_MASK = "completion_mask";
    /** FLOAT [seqs]: each completion's group-normalised advantage. */
    public static final String ADVANTAGES = "advantages";
    /** FLOAT [seqs, C]: log-probs of the completion tokens under the policy that sampled them. */
    public static final String OLD_PER_TOKEN_LOGPS = "old_per_token_logps";
    /** FLOAT [seqs, C]: log-probs under the reference (only in graphs exported with the KL term). */
    public static final String REF_PER_TOKEN_LOGPS = "ref_per_token_logps";
    /** FLOAT [1]: the KL weight β (only in graphs exported with the KL term). */
    public static final String BETA = SmolVlmInputs.BETA;
    /** FLOAT [1]: ε_low of the clipped ratio, 1 − ε_low being its lower bound (TRL's epsilon). */
    public static final String EPSILON_LOW = "epsilon_low";
    /** FLOAT [1]: ε_high, 1 + ε_high being the upper bound (TRL's epsilon_high, defaulting to epsilon). */
    public static final String EPSILON_HIGH = "epsilon_high";
    /** FLOAT [1]: the sampling temperature; logits are divided by it before the log-softmax, as TRL does. */
    public static final String TEMPERATURE = "temperature";
    /** FLOAT [seqs]: each sequence's divisor of its masked loss sum ({@link GrpoLossType#normalizers}). */
    public static final String LOSS_NORMALIZER = "loss_normalizer";

    public static final String LOSS = SmolVlmInputs.LOSS;
    /** FLOAT [seqs, C]: the policy's log-prob of each completion token (at the fed temperature). */
    public static final String PER_TOKEN_LOGPS = "per_token_logps";
}
