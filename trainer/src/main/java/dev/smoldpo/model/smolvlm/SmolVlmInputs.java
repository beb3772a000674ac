package dev.smoldpo.model.smolvlm;

/**
 * Names of the graph inputs and outputs: the contract between the data collator and the graphs.
 *
 * <p>Shapes: {@code tiles} image tiles of the batch (all-padding tiles already dropped), {@code P}
 * patches per tile, {@code rows} token rows (one per pair in the shared-prefix layout, two in the
 * concatenated one), {@code T} tokens per row, {@code K} scored completion tokens per row,
 * {@code pairs} preference pairs.
 */
public final class SmolVlmInputs {
    private SmolVlmInputs() {}

    /** FLOAT [tiles, 3, S, S]: normalised pixels. */
    public static final String PIXEL_VALUES = "pixel_values";
    /** INT64 [tiles, P]: bucketed position id of each patch (0 for padding patches). */
    public static final String PATCH_POSITION_IDS = "patch_position_ids";
    /** BOOL [tiles, P]: whether a patch holds any real pixel. */
    public static final String PATCH_MASK = "patch_mask";
    /** INT64 [rows, T]. */
    public static final String INPUT_IDS = "input_ids";
    /** INT64 [rows, T]: RoPE positions; the rejected part restarts after the prompt in the shared-prefix layout. */
    public static final String POSITION_IDS = "position_ids";
    /** INT64 [rows, T]: 0 padding, 1 prompt, 2 chosen, 3 rejected. A token sees earlier-positioned tokens of the prompt and of its own segment. */
    public static final String SEGMENT_IDS = "segment_ids";
    /** INT64 [rows, T]: row of concat(token embeddings [rows·T, D], image features [tiles·L, D]) that each position takes. */
    public static final String MERGE_INDEX = "merge_index";
    /** INT64 [rows, K]: flat position (row·T + t) whose hidden state predicts each scored token. */
    public static final String TARGET_INDEX = "target_index";
    /** INT64 [rows, K]: the scored tokens. */
    public static final String TARGET_IDS = "target_ids";
    /** FLOAT [rows, K]: 1 where the scored token belongs to the chosen completion. */
    public static final String CHOSEN_WEIGHT = "chosen_weight";
    /** FLOAT [rows, K]: 1 where the scored token belongs to the rejected completion. */
    public static final String REJECTED_WEIGHT = "rejected_weight";
    /** FLOAT [pairs, rows]: which row holds each pair's chosen completion. */
    public static final String CHOSEN_ROWS = "chosen_rows";
    /** FLOAT [pairs, rows]: which row holds each pair's rejected completion. */
    public static final String REJECTED_ROWS = "rejected_rows";
    /** FLOAT [pairs]: reference log-probs (absent when reference-free). */
    public static final String REF_CHOSEN_LOGPS = "ref_chosen_logps";
    public static final String REF_REJECTED_LOGPS = "ref_rejected_logps";
    /**
     * FLOAT [pairs]: each pair's weight in the loss, Σ weight · loss_pair. The trainer gives every
     * pair of an optimizer step 1 / (pairs in the step), so gradients accumulated over micro-batches
     * are exactly those of the mean over the whole step; 1 / pairs gives the batch mean.
     */
    public static final String PAIR_WEIGHT = "pair_weight";
    /** FLOAT [1]: DPO β. */
    public static final String BETA = "beta";

    public static final String LOSS = "loss";
    public static final String CHOSEN_LOGPS = "chosen_logps";
    public static final String REJECTED_LOGPS = "rejected_logps";
    /**
     * FLOAT [pairs]: Σ over the pair's scored chosen tokens of the mean logit over the vocabulary (at
     * the position that predicts the token). TRL's logits/chosen of a micro-batch is Σ of these over
     * its pairs / Σ of their chosen token counts (DPOTrainer._compute_loss), so sums are what the
     * trainer needs, not per-pair means.
     */
    public static final String CHOSEN_LOGITS_SUM = "chosen_logits_sum";
    /** FLOAT [pairs]: the same over the rejected tokens (TRL's logits/rejected). */
    public static final String REJECTED_LOGITS_SUM = "rejected_logits_sum";
    /** FLOAT [tiles, L, D]: connector output (reference graph, when the vision tower has no adapters). */
    public static final String IMAGE_FEATURES = "image_features";
}
