package dev.smoldpo.model.demo;

/**
 * The built-in demo model: SmolVLM's architecture (idefics3 config schema, HF weight names) at tiny
 * sizes, so the whole pipeline runs in seconds with no download. The tokenizer, the checkpoint and
 * the processor config all take their numbers from here.
 */
public final class DemoSpec {
    private DemoSpec() {}

    // ---- vocabulary: special tokens first, at fixed ids, as SmolVLM names them ----
    public static final int VOCAB_SIZE = 512;
    public static final String END_OF_TEXT = "<|endoftext|>";
    public static final int END_OF_TEXT_ID = 0;
    public static final String IM_START = "<|im_start|>";
    public static final int IM_START_ID = 1;
    public static final String IM_END = "<|im_end|>";
    public static final int IM_END_ID = 2;
    public static final String END_OF_UTTERANCE = "<end_of_utterance>";
    public static final int END_OF_UTTERANCE_ID = 3;
    public static final String FAKE_TOKEN_AROUND_IMAGE = "<fake_token_around_image>";
    public static final int FAKE_TOKEN_AROUND_IMAGE_ID = 4;
    public static final String IMAGE = "<image>";
    public static final int IMAGE_TOKEN_ID = 5;
    public static final String GLOBAL_IMAGE = "<global-img>";
    public static final int GLOBAL_IMAGE_ID = 6;
    /** {@code <row_{r}_col_{c}>} for r, c in 1..6 take ids FIRST_ROW_COL_ID + (r-1)*6 + (c-1). */
    public static final int FIRST_ROW_COL_ID = 7;
    /** The first id of ordinary (non-special) tokens. */
    public static final int FIRST_REGULAR_ID = 43;

    // ---- vision tower (SigLIP) ----
    public static final int VISION_HIDDEN = 32;
    public static final int VISION_LAYERS = 2;
    public static final int VISION_HEADS = 2;
    public static final int VISION_INTERMEDIATE = 64;
    public static final int PATCH_SIZE = 8;
    /** The tile side: vision_config.image_size = max_image_size.longest_edge. */
    public static final int TILE_SIZE = 32;
    public static final int SCALE_FACTOR = 2;
    /** Image tokens per tile: (TILE_SIZE / PATCH_SIZE)^2 / SCALE_FACTOR^2. */
    public static final int IMAGE_SEQ_LEN = (TILE_SIZE / PATCH_SIZE) * (TILE_SIZE / PATCH_SIZE) / (SCALE_FACTOR * SCALE_FACTOR);
    /** size.longest_edge of the processor: images up to 2x2 tiles plus the global one. */
    public static final int LONGEST_EDGE = 64;

    // ---- text model (Llama) ----
    public static final int TEXT_HIDDEN = 32;
    public static final int TEXT_LAYERS = 2;
    public static final int TEXT_HEADS = 4;
    public static final int TEXT_KV_HEADS = 2;
    public static final int TEXT_INTERMEDIATE = 64;
    public static final double ROPE_THETA = 10000.0;
    public static final double RMS_NORM_EPS = 1e-5;
    public static final double LAYER_NORM_EPS = 1e-6;
    public static final int MAX_POSITION_EMBEDDINGS = 2048;
}
