package dev.smoldpo.hf;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * An Idefics3 / SmolVLM {@code config.json}. Every shape comes from the file: a missing required
 * field is an error naming the field and the file (the transformers class defaults, e.g.
 * scale_factor 2 or image_token_id 128257, differ from the real checkpoints and are never used).
 * Unknown properties are ignored.
 *
 * @param source the file read (for messages)
 * @param modelType {@code idefics3} or {@code smolvlm}
 * @param imageTokenId id of the {@code <image>} token
 * @param scaleFactor pixel-shuffle factor of the connector
 * @param tieWordEmbeddings whether {@code lm_head} shares {@code embed_tokens} (top-level value, or
 *     text_config's when the top level lacks it)
 * @param text the Llama text model
 * @param vision the SigLIP vision encoder
 */
public record ModelConfig(
        Path source,
        String modelType,
        int imageTokenId,
        int scaleFactor,
        boolean tieWordEmbeddings,
        TextConfig text,
        VisionConfig vision) {

    public static final Set<String> SUPPORTED_MODEL_TYPES = Set.of("idefics3", "smolvlm");

    /*
     * Upper bounds of the shape fields, checked while parsing and before anything is sized from them:
     * several times the largest public models' values, so no real checkpoint hits them, while a typo
     * (a million layers) fails at once instead of after gigabytes of allocation.
     */
    public static final int MAX_LAYERS = 1024;
    public static final int MAX_HIDDEN_SIZE = 65_536;
    public static final int MAX_INTERMEDIATE_SIZE = 1 << 20;
    public static final int MAX_HEADS = 1024;
    public static final int MAX_HEAD_DIM = 4096;
    public static final int MAX_VOCAB_SIZE = 1 << 22;
    public static final int MAX_POSITIONS = 1 << 24;
    /** The image processor's own limit on any side (SMOLDPO_MAX_EDGE): a larger tile cannot be fed. */
    public static final int MAX_IMAGE_SIZE = 4096;
    public static final int MAX_PATCH_SIZE = 1024;
    public static final int MAX_CHANNELS = 16;
    public static final int MAX_SCALE_FACTOR = 64;

    /** Vocabulary size (rows of embed_tokens and lm_head); read from text_config.vocab_size. */
    public int vocabSize() {
        return text.vocabSize();
    }

    /** Input width of the connector projection: vision hidden x scale_factor^2. */
    public int connectorInputSize() {
        return Math.multiplyExact(vision.hiddenSize(), scaleFactor * scaleFactor);
    }

    /** Image tokens per tile: (patches per side / scale_factor)^2. */
    public int imageSeqLen() {
        int side = vision.patchesPerSide() / scaleFactor;
        return side * side;
    }

    /** Reads {@code config.json} from a file or from a model directory containing one. */
    public static ModelConfig load(Path pathOrDir) throws IOException {
        Path file = Files.isDirectory(pathOrDir) ? pathOrDir.resolve("config.json") : pathOrDir;
        if (!Files.isRegularFile(file)) {
            throw new HfFormatException(file + ": config.json not found");
        }
        return parse(JsonFiles.readObject(file), file);
    }

    /** Parses an already-read config tree; {@code source} is used only in messages. */
    public static ModelConfig parse(JsonNode root, Path source) throws HfFormatException {
        ConfigFields top = new ConfigFields(root, source, "");
        if (root == null || !root.isObject()) {
            throw new HfFormatException(source + ": config must be a JSON object");
        }
        String modelType = top.string("model_type");
        if (!SUPPORTED_MODEL_TYPES.contains(modelType)) {
            throw new HfFormatException(source + ": unsupported model_type '" + modelType
                    + "' (expected one of idefics3, smolvlm)");
        }
        int imageTokenId = top.positiveInt("image_token_id");
        int scaleFactor = top.boundedInt("scale_factor", MAX_SCALE_FACTOR);
        TextConfig text = TextConfig.parse(top.object("text_config"), source);
        VisionConfig vision = VisionConfig.parse(top.object("vision_config"), source);

        boolean tie;
        if (root.has("tie_word_embeddings")) {
            tie = top.bool("tie_word_embeddings");
        } else if (text.tieWordEmbeddings() != null) {
            tie = text.tieWordEmbeddings();
        } else {
            throw new HfFormatException(source + ": missing required field 'tie_word_embeddings' "
                    + "(neither at top level nor in text_config)");
        }
        if (root.has("vocab_size") && !root.get("vocab_size").isNull()) {
            int topVocab = top.positiveInt("vocab_size");
            if (topVocab != text.vocabSize()) {
                throw new HfFormatException(source + ": top-level vocab_size " + topVocab
                        + " differs from text_config.vocab_size " + text.vocabSize());
            }
        }
        if (vision.patchesPerSide() % scaleFactor != 0) {
            throw new HfFormatException(source + ": scale_factor " + scaleFactor + " does not divide "
                    + vision.patchesPerSide() + " patches per side");
        }
        if (imageTokenId >= text.vocabSize()) {
            throw new HfFormatException(source + ": image_token_id " + imageTokenId
                    + " is outside the vocabulary of " + text.vocabSize());
        }
        return new ModelConfig(source, modelType, imageTokenId, scaleFactor, tie, text, vision);
    }

    /** A weight name with its expected shape. */
    public record WeightSpec(String name, long[] shape) {
        public WeightSpec {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long elementCount() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof WeightSpec w && name.equals(w.name) && java.util.Arrays.equals(shape, w.shape);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + java.util.Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + java.util.Arrays.toString(shape);
        }
    }

    /**
     * The Hugging Face weight names and shapes of {@code Idefics3ForConditionalGeneration} for this
     * config (names as in {@code modeling_idefics3.py}: {@code model.vision_model.*},
     * {@code model.connector.*}, {@code model.text_model.*}, {@code lm_head.weight} unless tied).
     */
    public List<WeightSpec> expectedWeights() {
        List<WeightSpec> w = new ArrayList<>();
        VisionConfig v = vision;
        long vh = v.hiddenSize();
        String vp = "model.vision_model.";
        w.add(new WeightSpec(vp + "embeddings.patch_embedding.weight",
                new long[] {vh, v.numChannels(), v.patchSize(), v.patchSize()}));
        w.add(new WeightSpec(vp + "embeddings.patch_embedding.bias", new long[] {vh}));
        w.add(new WeightSpec(vp + "embeddings.position_embedding.weight", new long[] {v.numPatches(), vh}));
        for (int i = 0; i < v.numHiddenLayers(); i++) {
            String l = vp + "encoder.layers." + i + ".";
            for (String p : new String[] {"k_proj", "v_proj", "q_proj", "out_proj"}) {
                w.add(new WeightSpec(l + "self_attn." + p + ".weight", new long[] {vh, vh}));
                w.add(new WeightSpec(l + "self_attn." + p + ".bias", new long[] {vh}));
            }
            w.add(new WeightSpec(l + "layer_norm1.weight", new long[] {vh}));
            w.add(new WeightSpec(l + "layer_norm1.bias", new long[] {vh}));
            w.add(new WeightSpec(l + "mlp.fc1.weight", new long[] {v.intermediateSize(), vh}));
            w.add(new WeightSpec(l + "mlp.fc1.bias", new long[] {v.intermediateSize()}));
            w.add(new WeightSpec(l + "mlp.fc2.weight", new long[] {vh, v.intermediateSize()}));
            w.add(new WeightSpec(l + "mlp.fc2.bias", new long[] {vh}));
            w.add(new WeightSpec(l + "layer_norm2.weight", new long[] {vh}));
            w.add(new WeightSpec(l + "layer_norm2.bias", new long[] {vh}));
        }
        w.add(new WeightSpec(vp + "post_layernorm.weight", new long[] {vh}));
        w.add(new WeightSpec(vp + "post_layernorm.bias", new long[] {vh}));

        TextConfig t = text;
        long th = t.hiddenSize();
        w.add(new WeightSpec("model.connector.modality_projection.proj.weight",
                new long[] {th, connectorInputSize()}));

        String tp = "model.text_model.";
        w.add(new WeightSpec(tp + "embed_tokens.weight", new long[] {t.vocabSize(), th}));
        long q = (long) t.numAttentionHeads() * t.headDim();
        long kv = (long) t.numKeyValueHeads() * t.headDim();
        for (int i = 0; i < t.numHiddenLayers(); i++) {
            String l = tp + "layers." + i + ".";
            addLinear(w, l + "self_attn.q_proj", q, th, t.attentionBias());
            addLinear(w, l + "self_attn.k_proj", kv, th, t.attentionBias());
            addLinear(w, l + "self_attn.v_proj", kv, th, t.attentionBias());
            addLinear(w, l + "self_attn.o_proj", th, q, t.attentionBias());
            addLinear(w, l + "mlp.gate_proj", t.intermediateSize(), th, t.mlpBias());
            addLinear(w, l + "mlp.up_proj", t.intermediateSize(), th, t.mlpBias());
            addLinear(w, l + "mlp.down_proj", th, t.intermediateSize(), t.mlpBias());
            w.add(new WeightSpec(l + "input_layernorm.weight", new long[] {th}));
            w.add(new WeightSpec(l + "post_attention_layernorm.weight", new long[] {th}));
        }
        w.add(new WeightSpec(tp + "norm.weight", new long[] {th}));
        if (!tieWordEmbeddings) {
            w.add(new WeightSpec("lm_head.weight", new long[] {t.vocabSize(), th}));
        }
        return Collections.unmodifiableList(w);
    }

    private static void addLinear(List<WeightSpec> w, String prefix, long out, long in, boolean bias) {
        w.add(new WeightSpec(prefix + ".weight", new long[] {out, in}));
        if (bias) {
            w.add(new WeightSpec(prefix + ".bias", new long[] {out}));
        }
    }

    /**
     * Llama text model settings ({@code text_config}).
     *
     * @param headDim {@code head_dim}, or hidden_size / num_attention_heads when absent
     * @param numKeyValueHeads {@code num_key_value_heads}, or num_attention_heads when absent
     *     (Llama's documented meaning of an absent value)
     * @param tieWordEmbeddings text_config's own flag, null if absent
     * @param attentionBias {@code attention_bias}, false when absent (Llama meaning)
     * @param mlpBias {@code mlp_bias}, false when absent (Llama meaning)
     */
    public record TextConfig(
            String modelType,
            int hiddenSize,
            int intermediateSize,
            int numHiddenLayers,
            int numAttentionHeads,
            int numKeyValueHeads,
            int headDim,
            double rmsNormEps,
            double ropeTheta,
            int vocabSize,
            int maxPositionEmbeddings,
            Boolean tieWordEmbeddings,
            String hiddenAct,
            boolean attentionBias,
            boolean mlpBias) {

        static TextConfig parse(JsonNode n, Path source) throws HfFormatException {
            ConfigFields f = new ConfigFields(n, source, "text_config.");
            String modelType = f.optString("model_type", "llama");
            if (!modelType.equals("llama")) {
                throw new HfFormatException(source + ": unsupported text_config.model_type '" + modelType
                        + "' (expected llama)");
            }
            int hidden = f.boundedInt("hidden_size", MAX_HIDDEN_SIZE);
            int heads = f.boundedInt("num_attention_heads", MAX_HEADS);
            int kvHeads = n.hasNonNull("num_key_value_heads") ? f.boundedInt("num_key_value_heads", MAX_HEADS) : heads;
            int headDim;
            if (n.hasNonNull("head_dim")) {
                headDim = f.boundedInt("head_dim", MAX_HEAD_DIM);
            } else {
                if (hidden % heads != 0) {
                    throw new HfFormatException(source + ": text_config.head_dim is absent and hidden_size "
                            + hidden + " is not divisible by num_attention_heads " + heads);
                }
                headDim = hidden / heads;
            }
            if (headDim > MAX_HEAD_DIM) {
                throw new HfFormatException(source + ": text_config.hidden_size " + hidden + " / num_attention_heads "
                        + heads + " gives a head_dim of " + headDim + ", more than " + MAX_HEAD_DIM);
            }
            if (heads % kvHeads != 0) {
                throw new HfFormatException(source + ": text_config.num_attention_heads " + heads
                        + " is not a multiple of num_key_value_heads " + kvHeads);
            }
            if (n.hasNonNull("rope_scaling")) {
                throw new HfFormatException(source + ": text_config.rope_scaling " + JsonFiles.quote(n.get("rope_scaling"))
                        + " is not supported");
            }
            String act = f.optString("hidden_act", "silu");
            if (!act.equals("silu")) {
                throw new HfFormatException(source + ": unsupported text_config.hidden_act '" + act + "' (expected silu)");
            }
            return new TextConfig(modelType, hidden, f.boundedInt("intermediate_size", MAX_INTERMEDIATE_SIZE),
                    f.boundedInt("num_hidden_layers", MAX_LAYERS), heads, kvHeads, headDim,
                    f.positiveDouble("rms_norm_eps"), f.positiveDouble("rope_theta"),
                    f.boundedInt("vocab_size", MAX_VOCAB_SIZE), f.boundedInt("max_position_embeddings", MAX_POSITIONS),
                    n.hasNonNull("tie_word_embeddings") ? f.bool("tie_word_embeddings") : null,
                    act, f.optBool("attention_bias", false), f.optBool("mlp_bias", false));
        }
    }

    /**
     * SigLIP vision encoder settings ({@code vision_config}). A field left out takes transformers'
     * Idefics3VisionConfig / SmolVLMVisionConfig default (hidden_size 1152, intermediate_size 3072,
     * num_hidden_layers 12, num_attention_heads 16, num_channels 3, image_size 224, patch_size 32,
     * hidden_act gelu_pytorch_tanh, layer_norm_eps 1e-6): SmolVLM2 checkpoints save vision_config as
     * a diff against those defaults.
     */
    public record VisionConfig(
            String modelType,
            int hiddenSize,
            int intermediateSize,
            int numHiddenLayers,
            int numAttentionHeads,
            int patchSize,
            int imageSize,
            double layerNormEps,
            String hiddenAct,
            int numChannels) {

        public int patchesPerSide() {
            return imageSize / patchSize;
        }

        /** Rows of the position embedding: (image_size / patch_size)^2. */
        public int numPatches() {
            return patchesPerSide() * patchesPerSide();
        }

        public int headDim() {
            return hiddenSize / numAttentionHeads;
        }

        static VisionConfig parse(JsonNode n, Path source) throws HfFormatException {
            // SmolVLM2 configs (smolvlm_vision) leave out fields equal to transformers' defaults
            // (configuration_idefics3.py / configuration_smolvlm.py): absent fields take those
            ConfigFields f = new ConfigFields(n, source, "vision_config.");
            int hidden = f.optBoundedInt("hidden_size", MAX_HIDDEN_SIZE, 1152);
            int heads = f.optBoundedInt("num_attention_heads", MAX_HEADS, 16);
            if (hidden % heads != 0) {
                throw new HfFormatException(source + ": vision_config.hidden_size " + hidden
                        + " is not divisible by num_attention_heads " + heads);
            }
            int patch = f.optBoundedInt("patch_size", MAX_PATCH_SIZE, 32);
            int image = f.optBoundedInt("image_size", MAX_IMAGE_SIZE, 224);
            if (image % patch != 0) {
                throw new HfFormatException(source + ": vision_config.image_size " + image
                        + " is not a multiple of patch_size " + patch);
            }
            return new VisionConfig(f.optString("model_type", "idefics3"), hidden,
                    f.optBoundedInt("intermediate_size", MAX_INTERMEDIATE_SIZE, 3072),
                    f.optBoundedInt("num_hidden_layers", MAX_LAYERS, 12), heads, patch, image,
                    f.optPositiveDouble("layer_norm_eps", 1e-6), f.optString("hidden_act", "gelu_pytorch_tanh"),
                    f.optBoundedInt("num_channels", MAX_CHANNELS, 3));
        }
    }
}
