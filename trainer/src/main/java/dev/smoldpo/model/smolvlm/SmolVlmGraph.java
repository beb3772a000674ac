package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.SmolVlmInputs.*;

import dev.smoldpo.model.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.List;
import java.util.Map;

/**
 * Builds the SmolVLM (Idefics3) forward pass into a {@link Graph}, exactly as
 * shared/reference/smolvlm.md describes: SigLIP vision tower, pixel-shuffle connector, merge of
 * image features at {@code <image>} positions, Llama decoder, and logits only at the scored
 * completion positions. Linear layers listed in {@code adapters} get LoRA.
 */
public final class SmolVlmGraph {
    /** Masked attention scores: large and finite, so a fully masked (padding) row stays finite. */
    private static final double MASKED_SCORE = -1e9;

    private final Graph g;
    private final ModelConfig config;
    private final WeightSource weights;
    private final Map<String, LoraTargets.Target> adapters;
    private final Map<String, Value> trainable;
    private final LoraConfig lora;
    private final Value dropoutMode;
    private final VisionActivation visionActivation;
    private long dropoutSeed = 1;

    /**
     * @param adapters module name → target, for the adapted linear layers (empty for the reference)
     * @param trainable declared LoRA tensors by name ({@link LoraTargets.Target#loraA()} / loraB())
     * @param training whether LoRA dropout is active
     */
    public SmolVlmGraph(Graph g, ModelConfig config, WeightSource weights, Map<String, LoraTargets.Target> adapters,
                        Map<String, Value> trainable, LoraConfig lora, boolean training) {
        this.g = g;
        this.config = config;
        this.weights = weights;
        this.adapters = adapters;
        this.trainable = trainable;
        this.lora = lora;
        this.dropoutMode = training && lora != null && lora.dropout() > 0
                ? g.constant(TensorData.bools(new long[0], true)) : null;
        this.visionActivation = VisionActivation.of(config);
    }

    // ---- inputs ----

    /** The vision inputs, declared on the graph. */
    public record VisionInputs(Value pixelValues, Value patchPositionIds, Value patchMask) {}

    /** The text and selection inputs, declared on the graph. */
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

    // ---- deployment inputs (the transformers.js / Optimum contract) ----

    /**
     * The vision inputs from the processor's tensors as transformers.js passes them
     * (pixel_values [batch, images, 3, S, S], pixel_attention_mask [batch, images, S, S]): all-zero
     * padding images are dropped, and the patch mask and bucketed position ids are computed in the
     * graph exactly as {@link PatchPositions} does in Java.
     */
    public VisionInputs visionInputsFromPixels(Value pixelValues, Value pixelAttentionMask) {
        int s = config.vision().imageSize();
        int p = config.vision().patchSize();
        int n = s / p;
        Value flatPixels = g.reshape(pixelValues, -1, 3, s, s);
        Value flatMask = g.reshape(pixelAttentionMask, -1, s, s);
        Value magnitude = g.node("ReduceMax").in(g.unary("Abs", flatPixels)).attr("axes", new long[] {1, 2, 3})
                .attr("keepdims", 0L).out();
        Value keep = g.reshape(g.node("NonZero").in(g.node("Greater").in(magnitude, g.scalar(DType.FLOAT, 0)).out()).out(), -1);
        Value tiles = g.gather(flatPixels, keep, 0);
        Value mask = g.cast(g.gather(flatMask, keep, 0), DType.FLOAT);
        Value patchValid = g.node("ReduceMax").in(g.reshape(mask, -1, n, p, n, p)).attr("axes", new long[] {2, 4})
                .attr("keepdims", 0L).out();                                                    // [T, n, n]
        Value validBool = g.node("Greater").in(patchValid, g.scalar(DType.FLOAT, 0)).out();
        Value rows = g.reduceSum(g.squeeze(g.node("Slice").in(patchValid, g.longs(0), g.longs(1), g.longs(2)).out(), 2), false, 1);
        Value cols = g.reduceSum(g.squeeze(g.node("Slice").in(patchValid, g.longs(0), g.longs(1), g.longs(1)).out(), 1), false, 1);
        Value bucketRow = buckets(rows, n);                                                      // [T, n]
        Value bucketCol = buckets(cols, n);
        Value ids = g.add(g.mul(g.unsqueeze(bucketRow, 2), g.scalar(DType.FLOAT, n)), g.unsqueeze(bucketCol, 1));
        ids = g.where(validBool, ids, g.scalar(DType.FLOAT, 0));
        Value positionIds = g.reshape(g.cast(ids, DType.INT64), -1, (long) n * n);
        Value patchMask = g.reshape(validBool, -1, (long) n * n);
        return new VisionInputs(tiles, positionIds, patchMask);
    }

    /**
     * [T, n] bucket of each of the n patch rows (or columns) of every tile, given how many are valid:
     * torch.bucketize(i · float32(1/count), boundaries b/n, right=True) = #{boundaries <= coordinate}.
     */
    private Value buckets(Value count, int n) {
        float[] index = new float[n];
        for (int i = 0; i < n; i++) {
            index[i] = i;
        }
        float[] boundaries = new float[n - 1];
        for (int b = 1; b < n; b++) {
            boundaries[b - 1] = (float) (1.0 / n + (b - 1) * (1.0 / n));
        }
        Value step = g.unary("Reciprocal", g.unsqueeze(count, 1));                              // [T, 1]
        Value coords = g.mul(g.constant(TensorData.floats(new long[] {1, n}, index)), step);  // [T, n]
        Value above = g.node("GreaterOrEqual").in(g.unsqueeze(coords, 2),
                g.constant(TensorData.floats(new long[] {1, 1, n - 1}, boundaries))).out();     // [T, n, n-1]
        return g.reduceSum(g.cast(above, DType.FLOAT), false, 2);
    }

    // ---- decoding with a key/value cache ----

    /** The decoder step's outputs: logits of the kept positions and each layer's key/value cache. */
    public record DecoderStep(Value logits, List<Value> presentKeys, List<Value> presentValues) {}

    /**
     * One decoder call over {@code inputsEmbeds} [batch, seq, D] after a cache of {@code past}
     * positions: attention_mask [batch, past+seq] (1 = real token), position_ids [batch, seq],
     * pastKeys/pastValues [batch, kv, past, d] per layer; logits for the last numLogitsToKeep
     * positions (0 = all).
     */
    public DecoderStep decoderWithCache(Value inputsEmbeds, Value attentionMask, Value positionIds, List<Value> pastKeys,
                                       List<Value> pastValues, Value numLogitsToKeep) {
        ModelConfig.TextConfig t = config.text();
        String prefix = "model.text_model.";
        Value total = g.gather(g.shapeOf(attentionMask), g.constant(TensorData.longs(new long[0], 1)), 0);
        Value seq = g.gather(g.shapeOf(inputsEmbeds), g.constant(TensorData.longs(new long[0], 1)), 0);
        Value past = g.sub(total, seq);
        Value one = g.constant(TensorData.longs(new long[0], 1));
        Value keyIndex = g.node("Range").in(g.constant(TensorData.longs(new long[0], 0)), total, one).out();
        Value queryIndex = g.node("Range").in(past, total, one).out();
        Value causal = g.node("LessOrEqual").in(g.unsqueeze(keyIndex, 0), g.unsqueeze(queryIndex, 1)).out(); // [seq, total]
        Value real = g.node("Greater").in(attentionMask, g.longs(0)).out();                                 // [b, total]
        Value mask = g.node("And").in(g.unsqueeze(causal, 0, 1, 2), g.unsqueeze(real, 1, 2, 3)).out();       // [b,1,1,seq,total]
        Value[] rope = rope(positionIds);
        Value x = inputsEmbeds;
        List<Value> keys = new java.util.ArrayList<>();
        List<Value> values = new java.util.ArrayList<>();
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            String layer = prefix + "layers." + l + ".";
            Value h = rmsNorm(x, layer + "input_layernorm.weight", t.rmsNormEps());
            Value[] kv = new Value[2];
            x = g.add(x, cachedAttention(h, layer + "self_attn.", mask, rope, pastKeys.get(l), pastValues.get(l), kv));
            keys.add(kv[0]);
            values.add(kv[1]);
            x = g.add(x, mlp(rmsNorm(x, layer + "post_attention_layernorm.weight", t.rmsNormEps()), layer));
        }
        Value hidden = rmsNorm(x, prefix + "norm.weight", t.rmsNormEps());
        Value start = g.where(g.node("Greater").in(numLogitsToKeep, g.constant(TensorData.longs(new long[0], 0))).out(),
                g.neg(numLogitsToKeep), g.constant(TensorData.longs(new long[0], 0)));
        Value kept = g.node("Slice").in(hidden, g.unsqueeze(start, 0), g.longs(Long.MAX_VALUE), g.longs(1)).out();
        Value lmHead = config.tieWordEmbeddings()
                ? g.initializer("lm_head.tied.T", weights.transposed("model.text_model.embed_tokens.weight"))
                : g.initializer("lm_head.weight.T", weights.transposed("lm_head.weight"));
        return new DecoderStep(g.matMul(kept, lmHead), keys, values);
    }

    /** Attention over the cache plus the new positions; kv[0], kv[1] receive the layer's present key and value. */
    private Value cachedAttention(Value h, String prefix, Value mask, Value[] rope, Value pastKey, Value pastValue, Value[] kv) {
        Value[] qkv = projectQkv(h, prefix, rope);
        kv[0] = g.concat(2, pastKey, g.transpose(qkv[1], 0, 2, 1, 3));                             // [b, kv, total, d]
        kv[1] = g.concat(2, pastValue, g.transpose(qkv[2], 0, 2, 1, 3));
        return attend(qkv[0], g.transpose(kv[0], 0, 1, 3, 2), kv[1], mask, prefix);
    }

    /** Token embeddings [batch, seq, D] (the embed_tokens deployment graph). */
    public Value embedTokens(Value inputIds) {
        return g.gather(frozen("model.text_model.embed_tokens.weight"), inputIds, 0);
    }

    // ---- vision ----

    /** Image features [tiles, L, text hidden]: vision tower, pixel shuffle and projection. */
    public Value imageFeatures(VisionInputs in) {
        ModelConfig.VisionConfig v = config.vision();
        int patch = v.patchSize();
        int side = v.patchesPerSide();
        int hidden = v.hiddenSize();
        String prefix = "model.vision_model.";
        // Patch embedding: a stride-p convolution is a reshape to patches and one MatMul.
        Value patches = g.reshape(in.pixelValues(), 0, 3, side, patch, side, patch);
        patches = g.transpose(patches, 0, 2, 4, 1, 3, 5);
        patches = g.reshape(patches, 0, (long) side * side, 3L * patch * patch);
        Value x = g.add(g.matMul(patches, g.initializer(prefix + "embeddings.patch_embedding.weight.T",
                weights.transposed(prefix + "embeddings.patch_embedding.weight"))),
                frozen(prefix + "embeddings.patch_embedding.bias"));
        x = g.add(x, g.gather(frozen(prefix + "embeddings.position_embedding.weight"), in.patchPositionIds(), 0));
        // Key mask [tiles, 1, 1, P]: padding patches are never attended to.
        Value keyMask = g.unsqueeze(in.patchMask(), 1, 2);
        for (int l = 0; l < v.numHiddenLayers(); l++) {
            String layer = prefix + "encoder.layers." + l + ".";
            Value h = layerNorm(x, layer + "layer_norm1", v.layerNormEps());
            x = g.add(x, visionAttention(h, layer + "self_attn.", keyMask));
            h = layerNorm(x, layer + "layer_norm2", v.layerNormEps());
            Value up = linear(h, layer + "mlp.fc1", true);
            x = g.add(x, linear(visionActivation.apply(g, up), layer + "mlp.fc2", true));
        }
        x = layerNorm(x, prefix + "post_layernorm", v.layerNormEps());
        return connector(x, side, hidden);
    }

    private Value visionAttention(Value h, String prefix, Value keyMask) {
        ModelConfig.VisionConfig v = config.vision();
        int heads = v.numAttentionHeads();
        int d = v.headDim();
        Value q = g.transpose(g.reshape(linear(h, prefix + "q_proj", true), 0, 0, heads, d), 0, 2, 1, 3);
        Value k = g.transpose(g.reshape(linear(h, prefix + "k_proj", true), 0, 0, heads, d), 0, 2, 3, 1);
        Value val = g.transpose(g.reshape(linear(h, prefix + "v_proj", true), 0, 0, heads, d), 0, 2, 1, 3);
        Value scores = g.mul(g.matMul(q, k), g.scalar(DType.FLOAT, 1 / Math.sqrt(d)));
        scores = g.where(keyMask, scores, g.scalar(DType.FLOAT, MASKED_SCORE));
        Value out = g.matMul(g.softmax(scores, -1), val);
        out = g.reshape(g.transpose(out, 0, 2, 1, 3), 0, 0, (long) heads * d);
        return linear(out, prefix + "out_proj", true);
    }

    /** Pixel shuffle by the scale factor (as upstream: view, permute, reshape, permute, reshape), then the projection. */
    private Value connector(Value x, int side, int hidden) {
        long s = config.scaleFactor();
        Value y = g.reshape(x, 0, side, side / s, hidden * s);
        y = g.transpose(y, 0, 2, 1, 3);
        y = g.reshape(y, 0, side / s, side / s, hidden * s * s);
        y = g.transpose(y, 0, 2, 1, 3);
        y = g.reshape(y, 0, (long) side * side / (s * s), hidden * s * s);
        return linear(y, "model.connector.modality_projection.proj", false);
    }

    // ---- text ----

    /** Final hidden states [rows, T, D] of the decoder, with image features merged in. */
    public Value textHidden(TextInputs in, Value imageFeatures) {
        ModelConfig.TextConfig t = config.text();
        String prefix = "model.text_model.";
        int d = t.hiddenSize();
        Value tokens = g.gather(frozen(prefix + "embed_tokens.weight"), in.inputIds(), 0);
        Value table = g.concat(0, g.reshape(tokens, -1, d), g.reshape(imageFeatures, -1, d));
        Value x = g.gather(table, in.mergeIndex(), 0);
        Value mask = attentionMask(in.segmentIds(), in.positionIds());
        Value[] rope = rope(in.positionIds());
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            String layer = prefix + "layers." + l + ".";
            Value h = rmsNorm(x, layer + "input_layernorm.weight", t.rmsNormEps());
            x = g.add(x, textAttention(h, layer + "self_attn.", mask, rope));
            x = g.add(x, mlp(rmsNorm(x, layer + "post_attention_layernorm.weight", t.rmsNormEps()), layer));
        }
        return rmsNorm(x, prefix + "norm.weight", t.rmsNormEps());
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

    /** cos and sin [rows, T, 1, head_dim] of HF Llama's rotary embedding (inv_freq = θ^(-2i/d), emb = [f, f]). */
    private Value[] rope(Value positionIds) {
        ModelConfig.TextConfig t = config.text();
        int d = t.headDim();
        float[] invFreq = new float[d / 2];
        for (int i = 0; i < d / 2; i++) {
            invFreq[i] = (float) (1.0 / Math.pow(t.ropeTheta(), (2.0 * i) / d));
        }
        Value pos = g.unsqueeze(g.cast(positionIds, DType.FLOAT), 2);
        Value freqs = g.mul(pos, g.constant(TensorData.floats(new long[] {d / 2}, invFreq)));
        Value emb = g.unsqueeze(g.concat(-1, freqs, freqs), 2);
        return new Value[] {g.unary("Cos", emb), g.unary("Sin", emb)};
    }

    private Value applyRope(Value x, Value[] rope) {
        int half = config.text().headDim() / 2;
        Value first = g.node("Slice").in(x, g.longs(0), g.longs(half), g.longs(-1)).out();
        Value second = g.node("Slice").in(x, g.longs(half), g.longs(Long.MAX_VALUE), g.longs(-1)).out();
        Value rotated = g.concat(-1, g.neg(second), first);
        return g.add(g.mul(x, rope[0]), g.mul(rotated, rope[1]));
    }

    /** Grouped-query attention: query head j·G + i uses key/value head j (HF's repeat_kv). */
    private Value textAttention(Value h, String prefix, Value mask, Value[] rope) {
        Value[] qkv = projectQkv(h, prefix, rope);
        return attend(qkv[0], g.transpose(qkv[1], 0, 2, 3, 1), g.transpose(qkv[2], 0, 2, 1, 3), mask, prefix);
    }

    /** q [b, T, H, d] and k [b, T, kv, d] with RoPE applied, and v [b, T, kv, d]. */
    private Value[] projectQkv(Value h, String prefix, Value[] rope) {
        ModelConfig.TextConfig t = config.text();
        int d = t.headDim();
        Value q = applyRope(g.reshape(linear(h, prefix + "q_proj", false), 0, 0, t.numAttentionHeads(), d), rope);
        Value k = applyRope(g.reshape(linear(h, prefix + "k_proj", false), 0, 0, t.numKeyValueHeads(), d), rope);
        Value v = g.reshape(linear(h, prefix + "v_proj", false), 0, 0, t.numKeyValueHeads(), d);
        return new Value[] {q, k, v};
    }

    /**
     * Grouped-query attention and o_proj, shared by training and cached decoding: queries
     * [b, T, H, d] (RoPE applied), keys transposed [b, kv, d, S], values [b, kv, S, d]. Query head
     * j·G + i uses key/value head j (HF's repeat_kv), by broadcasting instead of repeating.
     */
    private Value attend(Value q, Value keysT, Value values, Value mask, String prefix) {
        ModelConfig.TextConfig t = config.text();
        int heads = t.numAttentionHeads();
        int kvHeads = t.numKeyValueHeads();
        int d = t.headDim();
        Value queries = g.transpose(g.reshape(q, 0, 0, kvHeads, heads / kvHeads, d), 0, 2, 3, 1, 4);   // [b, kv, G, T, d]
        Value scores = g.mul(g.matMul(queries, g.unsqueeze(keysT, 2)), g.scalar(DType.FLOAT, 1 / Math.sqrt(d)));
        scores = g.where(mask, scores, g.scalar(DType.FLOAT, MASKED_SCORE));
        Value out = g.matMul(g.softmax(scores, -1), g.unsqueeze(values, 2));                          // [b, kv, G, T, d]
        out = g.reshape(g.transpose(out, 0, 3, 1, 2, 4), 0, 0, (long) heads * d);
        return linear(out, prefix + "o_proj", false);
    }

    /** SwiGLU: down(silu(gate(h)) * up(h)). */
    private Value mlp(Value h, String layer) {
        Value gate = linear(h, layer + "mlp.gate_proj", false);
        Value up = linear(h, layer + "mlp.up_proj", false);
        return linear(g.mul(g.mul(gate, g.unary("Sigmoid", gate)), up), layer + "mlp.down_proj", false);
    }

    // ---- completion log-probs ----

    /**
     * Per-pair sums over the scored tokens: log-probs, token counts, and the vocabulary-mean logits
     * (see {@link SmolVlmInputs#CHOSEN_LOGITS_SUM}).
     */
    public record CompletionScores(Value chosenLogps, Value rejectedLogps, Value chosenLength, Value rejectedLength,
                                   Value chosenLogitsSum, Value rejectedLogitsSum) {}

    /**
     * Logits and log-softmax at the scored positions only (K per row, not T), then the summed
     * log-probs of each pair's chosen and rejected completions.
     */
    public CompletionScores completionScores(Value hidden, TextInputs in) {
        int d = config.text().hiddenSize();
        Value selected = g.gather(g.reshape(hidden, -1, d), in.targetIndex(), 0);       // [rows, K, D]
        Value lmHead = config.tieWordEmbeddings()
                ? g.initializer("lm_head.tied.T", weights.transposed("model.text_model.embed_tokens.weight"))
                : g.initializer("lm_head.weight.T", weights.transposed("lm_head.weight"));
        Value logits = g.matMul(selected, lmHead);                                         // [rows, K, V]
        Value logp = g.logSoftmax(logits, -1);
        Value tokenLogp = g.squeeze(g.node("GatherElements").in(logp, g.unsqueeze(in.targetIds(), -1))
                .attr("axis", -1L).out(), -1);                                             // [rows, K]
        Value meanLogit = g.reduceMean(logits, false, -1);                                 // [rows, K]
        return new CompletionScores(
                perPair(tokenLogp, in.chosenWeight(), in.chosenRows()),
                perPair(tokenLogp, in.rejectedWeight(), in.rejectedRows()),
                perPair(null, in.chosenWeight(), in.chosenRows()),
                perPair(null, in.rejectedWeight(), in.rejectedRows()),
                perPair(meanLogit, in.chosenWeight(), in.chosenRows()),
                perPair(meanLogit, in.rejectedWeight(), in.rejectedRows()));
    }

    /** [pairs]: Σ over each pair's row of values·weight (or of the weights alone when values is null). */
    private Value perPair(Value values, Value weight, Value rowsOfPairs) {
        Value weighted = values == null ? weight : g.mul(values, weight);
        Value perRow = g.reduceSum(weighted, true, 1);                                     // [rows, 1]
        return g.squeeze(g.matMul(rowsOfPairs, perRow), 1);                               // [pairs]
    }

    // ---- building blocks ----

    private Value frozen(String name) {
        return g.hasValue(name) ? g.value(name) : g.initializer(name, weights.asIs(name));
    }

    private Value frozenT(String weightName) {
        String name = weightName + ".T";
        return g.hasValue(name) ? g.value(name) : g.initializer(name, weights.transposed(weightName));
    }

    /** x W^T (+ b) (+ scale · dropout(x) A^T B^T when the module has an adapter). */
    private Value linear(Value x, String module, boolean bias) {
        Value y = g.matMul(x, frozenT(module + ".weight"));
        if (bias) {
            y = g.add(y, frozen(module + ".bias"));
        }
        LoraTargets.Target target = adapters.get(module);
        if (target == null) {
            return y;
        }
        Value a = trainable.get(target.loraA());
        Value b = trainable.get(target.loraB());
        Value input = dropoutMode == null ? x : g.dropout(x, lora.dropout(), dropoutMode, dropoutSeed++).get(0);
        Value down = g.matMul(input, g.transpose(a, 1, 0));
        Value delta = g.matMul(down, g.transpose(b, 1, 0));
        return g.add(y, g.mul(delta, g.scalar(DType.FLOAT, lora.scale())));
    }

    private Value layerNorm(Value x, String module, double eps) {
        return g.node("LayerNormalization").in(x, frozen(module + ".weight"), frozen(module + ".bias"))
                .attr("axis", -1L).attr("epsilon", eps).out();
    }

    private Value rmsNorm(Value x, String weightName, double eps) {
        return g.rmsNorm(x, frozen(weightName), eps);
    }

    /** Which of this config's linear layers get adapters under {@code lora}. */
    public static List<LoraTargets.Target> adapterTargets(ModelConfig config, LoraConfig lora) {
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        for (ModelConfig.WeightSpec w : config.expectedWeights()) {
            shapes.put(w.name(), w.shape());
        }
        return LoraTargets.select(shapes, lora);
    }
}
