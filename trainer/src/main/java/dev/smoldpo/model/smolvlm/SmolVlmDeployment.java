package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * The deployment-only parts of SmolVLM's graphs, for the layout transformers.js and Optimum use
 * (transformers.js src/models.js, its SmolVLM / Idefics3 classes): the vision encoder's inputs from
 * the processor's own tensors (padding images dropped, patch positions bucketed in the graph), the
 * token embeddings, and the decoder with a key/value cache and {@code num_logits_to_keep}.
 */
public final class SmolVlmDeployment {
    private final SmolVlmGraph model;
    private final SmolVlmLayers layers;
    private final Graph g;
    private final ModelConfig config;

    public SmolVlmDeployment(SmolVlmGraph model) {
        this.model = model;
        this.layers = model.layers();
        this.g = layers.graph();
        this.config = layers.config();
    }

    /** Image features from transformers.js' pixel_values [batch, images, 3, S, S] and pixel_attention_mask. */
    public Value imageFeatures(Value pixelValues, Value pixelAttentionMask) {
        return model.imageFeatures(visionInputsFromPixels(pixelValues, pixelAttentionMask));
    }

    /**
     * The vision inputs from the processor's tensors as transformers.js passes them
     * (pixel_values [batch, images, 3, S, S], pixel_attention_mask [batch, images, S, S]): all-zero
     * padding images are dropped, and the patch mask and bucketed position ids are computed in the
     * graph exactly as {@link PatchPositions} does in Java.
     */
    SmolVlmGraph.VisionInputs visionInputsFromPixels(Value pixelValues, Value pixelAttentionMask) {
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
        return new SmolVlmGraph.VisionInputs(tiles, positionIds, patchMask);
    }

    /**
     * [T, n] bucket of each of the n patch rows (or columns) of every tile, given how many are valid:
     * torch.bucketize(i · float32(1/count), boundaries b/n, right=True) = #{boundaries <= coordinate}
     * (modeling_idefics3.py, Idefics3VisionEmbeddings.forward).
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

    /** Token embeddings [batch, seq, D] (the embed_tokens deployment graph). */
    public Value embedTokens(Value inputIds) {
        return g.gather(layers.frozen("model.text_model.embed_tokens.weight"), inputIds, 0);
    }

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
        Value zero = g.constant(TensorData.longs(new long[0], 0));
        Value one = g.constant(TensorData.longs(new long[0], 1));
        Value total = g.gather(g.shapeOf(attentionMask), one, 0);
        Value seq = g.gather(g.shapeOf(inputsEmbeds), one, 0);
        Value past = g.sub(total, seq);
        Value keyIndex = g.node("Range").in(zero, total, one).out();
        Value queryIndex = g.node("Range").in(past, total, one).out();
        Value causal = g.node("LessOrEqual").in(g.unsqueeze(keyIndex, 0), g.unsqueeze(queryIndex, 1)).out(); // [seq, total]
        Value real = g.node("Greater").in(attentionMask, g.longs(0)).out();                                 // [b, total]
        Value mask = g.node("And").in(g.unsqueeze(causal, 0, 1, 2), g.unsqueeze(real, 1, 2, 3)).out();       // [b,1,1,seq,total]
        Value[] rope = layers.rope(positionIds);
        Value x = inputsEmbeds;
        List<Value> keys = new ArrayList<>();
        List<Value> values = new ArrayList<>();
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            String layer = prefix + "layers." + l + ".";
            Value h = layers.rmsNorm(x, layer + "input_layernorm.weight", t.rmsNormEps());
            Value[] qkv = layers.projectQkv(h, layer + "self_attn.", rope);
            Value key = g.concat(2, pastKeys.get(l), g.transpose(qkv[1], 0, 2, 1, 3));            // [b, kv, total, d]
            Value value = g.concat(2, pastValues.get(l), g.transpose(qkv[2], 0, 2, 1, 3));
            keys.add(key);
            values.add(value);
            x = g.add(x, layers.attend(qkv[0], g.transpose(key, 0, 1, 3, 2), value, mask, layer + "self_attn."));
            x = g.add(x, layers.mlp(layers.rmsNorm(x, layer + "post_attention_layernorm.weight", t.rmsNormEps()), layer));
        }
        Value hidden = layers.rmsNorm(x, prefix + "norm.weight", t.rmsNormEps());
        Value start = g.where(g.node("Greater").in(numLogitsToKeep, zero).out(), g.neg(numLogitsToKeep), zero);
        Value kept = g.node("Slice").in(hidden, g.unsqueeze(start, 0), g.longs(Long.MAX_VALUE), g.longs(1)).out();
        return new DecoderStep(g.matMul(kept, layers.lmHead()), keys, values);
    }
}
