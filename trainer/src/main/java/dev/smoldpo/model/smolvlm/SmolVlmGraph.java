package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.SmolVlmInputs.*;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import java.util.Map;

/**
 * SmolVLM's forward pass as its model card describes it, in reading order (transformers
 * models/idefics3/modeling_idefics3.py; SmolVLM2 is the same model, models/smolvlm): the vision
 * embeddings and the SigLIP encoder, the pixel-shuffle connector, then the Llama decoder over the token
 * embeddings with the image features merged at the {@code <image>} positions. Linear layers listed in
 * {@code adapters} get LoRA ({@link SmolVlmLayers#linear}). What the DPO graphs score lives in
 * {@link DpoScoring}; the deployment graphs in {@link SmolVlmDeployment}.
 */
public final class SmolVlmGraph {
    private final Graph g;
    private final ModelConfig config;
    private final SmolVlmLayers layers;
    private final VisionActivation visionActivation;

    /**
     * @param adapters module name → target, for the adapted linear layers (empty for the reference)
     * @param trainable declared LoRA tensors by name ({@link LoraTargets.Target#loraA()} / loraB())
     * @param training whether LoRA dropout is active
     */
    public SmolVlmGraph(Graph g, ModelConfig config, WeightSource weights, Map<String, LoraTargets.Target> adapters,
                        Map<String, Value> trainable, LoraConfig lora, boolean training) {
        this(g, config, weights, NumericTypes.FP32, adapters, trainable, lora, training);
    }

    /** As above, with the weights stored and the graph computed in {@code types} (see {@link SmolVlmLayers}). */
    public SmolVlmGraph(Graph g, ModelConfig config, WeightSource weights, NumericTypes types,
                        Map<String, LoraTargets.Target> adapters, Map<String, Value> trainable, LoraConfig lora,
                        boolean training) {
        this(g, config, weights, types, adapters, trainable, lora, training, ActivationRecompute.NONE);
    }

    /** As above, with the activations {@code recompute} names recomputed by the gradient pass. */
    public SmolVlmGraph(Graph g, ModelConfig config, WeightSource weights, NumericTypes types,
                        Map<String, LoraTargets.Target> adapters, Map<String, Value> trainable, LoraConfig lora,
                        boolean training, ActivationRecompute recompute) {
        this.g = g;
        this.config = config;
        this.layers = new SmolVlmLayers(g, config, weights, types, adapters, trainable, lora, training, recompute);
        this.visionActivation = VisionActivation.of(config);
    }

    /** The building blocks this model is made of, for the graphs built around it. */
    public SmolVlmLayers layers() {
        return layers;
    }

    // ---- inputs ----

    /** The vision inputs: tiles [tiles, 3, S, S], per-patch position ids and mask [tiles, patches]. */
    public record VisionInputs(Value pixelValues, Value patchPositionIds, Value patchMask) {}

    /** The text and selection inputs ({@link SmolVlmInputs} names them). */
    public record TextInputs(Value inputIds, Value positionIds, Value segmentIds, Value mergeIndex, Value targetIndex,
                             Value targetIds, Value chosenWeight, Value rejectedWeight, Value chosenRows,
                             Value rejectedRows) {}

    public VisionInputs declareVisionInputs() {
        int s = config.vision().imageSize();
        int p = config.vision().numPatches();
        return new VisionInputs(
                g.input(PIXEL_VALUES, DType.FLOAT, Shape.of("tiles", 3, s, s)),
                g.input(PATCH_POSITION_IDS, DType.INT64, Shape.of("tiles", p)),
                g.input(PATCH_MASK, DType.BOOL, Shape.of("tiles", p)));
    }

    public TextInputs declareTextInputs() {
        return new TextInputs(
                g.input(INPUT_IDS, DType.INT64, Shape.of("rows", "T")),
                g.input(POSITION_IDS, DType.INT64, Shape.of("rows", "T")),
                g.input(SEGMENT_IDS, DType.INT64, Shape.of("rows", "T")),
                g.input(MERGE_INDEX, DType.INT64, Shape.of("rows", "T")),
                g.input(TARGET_INDEX, DType.INT64, Shape.of("rows", "K")),
                g.input(TARGET_IDS, DType.INT64, Shape.of("rows", "K")),
                g.input(CHOSEN_WEIGHT, DType.FLOAT, Shape.of("rows", "K")),
                g.input(REJECTED_WEIGHT, DType.FLOAT, Shape.of("rows", "K")),
                g.input(CHOSEN_ROWS, DType.FLOAT, Shape.of("pairs", "rows")),
                g.input(REJECTED_ROWS, DType.FLOAT, Shape.of("pairs", "rows")));
    }

    // ---- vision: Idefics3VisionEmbeddings, Idefics3Encoder, post_layernorm ----

    /** Image features [tiles, L, text hidden] in the compute type: vision tower, pixel shuffle and projection. */
    public Value imageFeatures(VisionInputs in) {
        ModelConfig.VisionConfig v = config.vision();
        int patch = v.patchSize();
        int side = v.patchesPerSide();
        String prefix = "model.vision_model.";
        // Patch embedding: a stride-p convolution is a reshape to patches and one MatMul.
        Value patches = g.reshape(layers.toCompute(in.pixelValues()), 0, 3, side, patch, side, patch);
        patches = g.transpose(patches, 0, 2, 4, 1, 3, 5);
        patches = g.reshape(patches, 0, (long) side * side, 3L * patch * patch);
        Value x = g.add(g.matMul(patches, layers.frozenT(prefix + "embeddings.patch_embedding.weight")),
                layers.frozen(prefix + "embeddings.patch_embedding.bias"));
        x = g.add(x, g.gather(layers.frozen(prefix + "embeddings.position_embedding.weight"), in.patchPositionIds(), 0));
        // Key mask [tiles, 1, 1, P]: padding patches are never attended to.
        Value keyMask = g.unsqueeze(in.patchMask(), 1, 2);
        for (int l = 0; l < v.numHiddenLayers(); l++) {
            String layer = prefix + "encoder.layers." + l + ".";
            Value layerInput = x;
            x = g.recomputeScope(layers.recompute().visionLayerScope(layer), () -> visionLayer(layerInput, layer, keyMask));
        }
        x = layers.layerNorm(x, prefix + "post_layernorm", v.layerNormEps());
        return connector(x, side, v.hiddenSize());
    }

    /** Idefics3EncoderLayer: pre-norm attention and MLP, each added to the residual stream. */
    private Value visionLayer(Value x, String layer, Value keyMask) {
        ModelConfig.VisionConfig v = config.vision();
        Value h = layers.layerNorm(x, layer + "layer_norm1", v.layerNormEps());
        x = g.add(x, visionAttention(h, layer + "self_attn.", keyMask));
        h = layers.layerNorm(x, layer + "layer_norm2", v.layerNormEps());
        Value up = layers.linear(h, layer + "mlp.fc1", true);
        return g.add(x, layers.linear(visionActivation.apply(g, up), layer + "mlp.fc2", true));
    }

    /** Idefics3VisionAttention: full attention over a tile's patches, padding patches masked out. */
    private Value visionAttention(Value h, String prefix, Value keyMask) {
        ModelConfig.VisionConfig v = config.vision();
        int heads = v.numAttentionHeads();
        int d = v.headDim();
        Value q = g.transpose(g.reshape(layers.linear(h, prefix + "q_proj", true), 0, 0, heads, d), 0, 2, 1, 3);
        Value k = g.transpose(g.reshape(layers.linear(h, prefix + "k_proj", true), 0, 0, heads, d), 0, 2, 3, 1);
        Value val = g.transpose(g.reshape(layers.linear(h, prefix + "v_proj", true), 0, 0, heads, d), 0, 2, 1, 3);
        Value out = layers.attentionCore(q, k, val, 1 / Math.sqrt(d), keyMask, prefix);
        out = g.reshape(g.transpose(out, 0, 2, 1, 3), 0, 0, (long) heads * d);
        return layers.linear(out, prefix + "out_proj", true);
    }

    // ---- Idefics3Connector ----

    /** Pixel shuffle by the scale factor (as upstream: view, permute, reshape, permute, reshape), then the projection. */
    private Value connector(Value x, int side, int hidden) {
        long s = config.scaleFactor();
        Value y = g.reshape(x, 0, side, side / s, hidden * s);
        y = g.transpose(y, 0, 2, 1, 3);
        y = g.reshape(y, 0, side / s, side / s, hidden * s * s);
        y = g.transpose(y, 0, 2, 1, 3);
        y = g.reshape(y, 0, (long) side * side / (s * s), hidden * s * s);
        return layers.linear(y, "model.connector.modality_projection.proj", false);
    }

    // ---- text: inputs_merger, LlamaModel ----

    /** Final hidden states [rows, T, D] of the decoder (compute type), with image features merged in. */
    public Value textHidden(TextInputs in, Value imageFeatures) {
        ModelConfig.TextConfig t = config.text();
        String prefix = "model.text_model.";
        int d = t.hiddenSize();
        Value tokens = g.gather(layers.frozen(prefix + "embed_tokens.weight"), in.inputIds(), 0);
        // inputs_merger: each <image> row takes the next image-feature row (MERGE_INDEX points into [tokens; features])
        Value table = g.concat(0, g.reshape(tokens, -1, d), g.reshape(imageFeatures, -1, d));
        Value x = g.gather(table, in.mergeIndex(), 0);
        Value mask = attentionMask(in.segmentIds(), in.positionIds());
        Value[] rope = layers.rope(in.positionIds());
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            String layer = prefix + "layers." + l + ".";
            Value layerInput = x;
            x = g.recomputeScope(layers.recompute().decoderLayerScope(layer), () -> decoderLayer(layerInput, layer, mask, rope));
        }
        return layers.rmsNorm(x, prefix + "norm.weight", t.rmsNormEps());
    }

    /** LlamaDecoderLayer: pre-norm self-attention and SwiGLU MLP, each added to the residual stream. */
    private Value decoderLayer(Value x, String layer, Value mask, Value[] rope) {
        ModelConfig.TextConfig t = config.text();
        Value h = layers.rmsNorm(x, layer + "input_layernorm.weight", t.rmsNormEps());
        Value[] qkv = layers.projectQkv(h, layer + "self_attn.", rope);
        x = g.add(x, layers.attend(qkv[0], g.transpose(qkv[1], 0, 2, 3, 1), g.transpose(qkv[2], 0, 2, 1, 3), mask,
                layer + "self_attn."));
        return g.add(x, layers.mlp(layers.rmsNorm(x, layer + "post_attention_layernorm.weight", t.rmsNormEps()), layer));
    }

    /**
     * BOOL [rows, 1, 1, T, T]: query i may see key j when j is not padding, comes no later in
     * position, and lies in the prompt or in i's own segment. This is the causal mask for one
     * sequence, and for the shared-prefix layout it also hides chosen from rejected and back.
     */
    private Value attentionMask(Value segmentIds, Value positionIds) {
        Value segQ = g.unsqueeze(segmentIds, 2);
        Value segK = g.unsqueeze(segmentIds, 1);
        Value posQ = g.unsqueeze(positionIds, 2);
        Value posK = g.unsqueeze(positionIds, 1);
        Value notPad = g.node("Greater").in(segK, g.longs(0)).out();
        Value causal = g.node("LessOrEqual").in(posK, posQ).out();
        Value visible = g.node("Or").in(g.node("Equal").in(segK, g.longs(1)).out(), g.node("Equal").in(segK, segQ).out()).out();
        Value allowed = g.node("And").in(g.node("And").in(notPad, causal).out(), visible).out();
        return g.unsqueeze(allowed, 1, 2);
    }
}
