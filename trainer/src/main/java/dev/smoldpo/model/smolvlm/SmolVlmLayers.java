package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.List;
import java.util.Map;

/**
 * The building blocks SmolVLM's graphs are made of, over one {@link Graph}: frozen weights (each an
 * initializer once per graph), linear layers with LoRA where an adapter is configured, LayerNorm,
 * RMSNorm, Llama's rotary embedding, grouped-query attention, SwiGLU and the language-model head. The
 * training graphs ({@link SmolVlmGraph}) and the deployment graphs ({@link SmolVlmDeployment}) share them,
 * so training and decoding compute the same function.
 *
 * <p>Element types ({@link NumericTypes}): matrices, biases and embeddings are stored in the weights type
 * and the matmuls, the residual stream and the MLPs run in the compute type, as in a transformers model
 * loaded in bfloat16. As torch's autocast does, the numerically delicate parts run in FLOAT with Casts
 * around them: the norms (statistics and scale; their parameters stay FLOAT), the attention scores'
 * scale, mask and softmax (a -1e9 mask is -inf in float16), and, in {@link DpoScoring}, the
 * log-softmax and everything after it. The LoRA tensors are FLOAT masters cast to the compute type
 * where they are used; the Cast's gradient rule casts their gradients back to FLOAT. With FLOAT
 * compute no Cast is emitted and the graphs are the float32 graphs.
 */
public final class SmolVlmLayers {
    /** Masked attention scores: large and finite, so a fully masked (padding) row stays finite. */
    static final double MASKED_SCORE = -1e9;

    private final Graph g;
    private final ModelConfig config;
    private final WeightSource weights;
    private final NumericTypes types;
    private final Map<String, LoraTargets.Target> adapters;
    private final Map<String, Value> trainable;
    private final LoraConfig lora;
    private final Value dropoutMode;
    private final ActivationRecompute recompute;
    private long dropoutSeed = 1;

    SmolVlmLayers(Graph g, ModelConfig config, WeightSource weights, NumericTypes types,
                  Map<String, LoraTargets.Target> adapters, Map<String, Value> trainable, LoraConfig lora, boolean training,
                  ActivationRecompute recompute) {
        this.g = g;
        this.recompute = recompute;
        this.config = config;
        this.weights = weights;
        this.types = types;
        this.adapters = adapters;
        this.trainable = trainable;
        this.lora = lora;
        this.dropoutMode = training && lora != null && lora.dropout() > 0
                ? g.constant(TensorData.bools(new long[0], true)) : null;
    }

    Graph graph() {
        return g;
    }

    ModelConfig config() {
        return config;
    }

    NumericTypes types() {
        return types;
    }

    ActivationRecompute recompute() {
        return recompute;
    }

    /**
     * softmax(q·k · scale, masked) · values, in the recompute scope of the attention named by {@code prefix}:
     * with recompute on, the [.., T, S] scores and probabilities are computed again in the backward pass
     * instead of being kept.
     */
    Value attentionCore(Value queries, Value keysT, Value values, double scale, Value mask, String prefix) {
        return g.recomputeScope(recompute.attentionScope(prefix),
                () -> g.matMul(attentionProbabilities(g.matMul(queries, keysT), scale, mask), values));
    }

    /** A frozen matrix, bias or embedding as stored, in the compute type. */
    Value frozen(String name) {
        Value stored = g.hasValue(name) ? g.value(name) : g.initializer(name, weights.asIs(name, types.weights()));
        return widened(stored);
    }

    /** A frozen [out, in] weight transposed to [in, out] for {@code x W^T} as one MatMul, in the compute type. */
    Value frozenT(String weightName) {
        String name = weightName + ".T";
        Value stored = g.hasValue(name) ? g.value(name) : g.initializer(name, weights.transposed(weightName, types.weights()));
        return widened(stored);
    }

    /** A norm's scale or bias: always FLOAT, as the norm is computed in FLOAT. */
    private Value normParameter(String name) {
        return g.hasValue(name) ? g.value(name) : g.initializer(name, weights.asIs(name, DType.FLOAT));
    }

    /** {@code stored} in the compute type: one Cast per weight and graph when the two types differ. */
    private Value widened(Value stored) {
        if (stored.dtype() == types.compute()) {
            return stored;
        }
        String name = stored.name() + ".widened";
        return g.hasValue(name) ? g.value(name)
                : g.node("Cast").in(stored).attr("to", (long) types.compute().onnxCode).outputNames(name).out();
    }

    /** {@code x} in the compute type (a Cast when it is not). */
    Value toCompute(Value x) {
        return x.dtype() == types.compute() ? x : g.cast(x, types.compute());
    }

    /** {@code x} in FLOAT (a Cast when it is not). */
    Value toFloat(Value x) {
        return x.dtype() == DType.FLOAT ? x : g.cast(x, DType.FLOAT);
    }

    /** x W^T (+ b) (+ scale · dropout(x) A^T B^T when the module has an adapter: PEFT's lora.Linear). */
    Value linear(Value x, String module, boolean bias) {
        Value y = g.matMul(x, frozenT(module + ".weight"));
        if (bias) {
            y = g.add(y, frozen(module + ".bias"));
        }
        LoraTargets.Target target = adapters.get(module);
        if (target == null) {
            return y;
        }
        // FLOAT masters, cast where they are used: the optimizer updates float32 values
        Value a = toCompute(trainable.get(target.loraA()));
        Value b = toCompute(trainable.get(target.loraB()));
        Value input = dropoutMode == null ? x : g.dropout(x, lora.dropout(), dropoutMode, dropoutSeed++).get(0);
        Value down = g.matMul(input, g.transpose(a, 1, 0));
        Value delta = g.matMul(down, g.transpose(b, 1, 0));
        return g.add(y, g.mul(delta, g.scalar(types.compute(), lora.scale())));
    }

    /** LayerNorm in FLOAT (its kernel keeps the statistics in FLOAT too), back to the compute type. */
    Value layerNorm(Value x, String module, double eps) {
        Value y = g.node("LayerNormalization").in(toFloat(x), normParameter(module + ".weight"), normParameter(module + ".bias"))
                .attr("axis", -1L).attr("epsilon", eps).out();
        return toCompute(y);
    }

    /** RMSNorm in FLOAT (transformers' LlamaRMSNorm also computes its variance in float32), back to the compute type. */
    Value rmsNorm(Value x, String weightName, double eps) {
        return toCompute(g.rmsNorm(toFloat(x), normParameter(weightName), eps));
    }

    /**
     * Attention probabilities from raw scores (q·k, compute type): scaled, masked ({@code mask} true =
     * visible) and normalised over the last axis in FLOAT, then in the compute type for the product with the values.
     * The mask enters as an additive bias (0 where visible, {@link #MASKED_SCORE} elsewhere), made once per
     * mask: a visible score plus 0 is the score itself and a masked one still gets probability exactly 0, so
     * the probabilities equal those of a select by the mask, while the gradient passes through the Add
     * untouched. A select (Where) costs a broadcast pass over the [.., T, S] scores forward and another
     * backward (in one ORT profile of a 256M train step on 2 cores, Where took 45% of the kernel time).
     */
    Value attentionProbabilities(Value scores, double scale, Value mask) {
        Value scaled = g.mul(toFloat(scores), g.scalar(DType.FLOAT, scale));
        return toCompute(g.softmax(g.add(scaled, attentionBias(mask)), -1));
    }

    /** FLOAT 0 where {@code mask} is true, {@link #MASKED_SCORE} where false; one per mask and graph. */
    private Value attentionBias(Value mask) {
        String name = mask.name() + ".bias";
        if (g.hasValue(name)) {
            return g.value(name);
        }
        // every layer reads it, so with recompute scopes it is kept from the forward pass, not recomputed
        return g.node("Where").in(mask, g.scalar(DType.FLOAT, 0), g.scalar(DType.FLOAT, MASKED_SCORE)).outputNames(name).out();
    }

    /**
     * The language-model head [D, V]: {@code lm_head.weight}, or the token embeddings when
     * {@code tie_word_embeddings} (transformers' {@code tie_weights}); one initializer per graph.
     */
    Value lmHead() {
        return config.tieWordEmbeddings() ? frozenT("model.text_model.embed_tokens.weight") : frozenT("lm_head.weight");
    }

    /** cos and sin [rows, T, 1, head_dim] of Llama's rotary embedding (modeling_llama.py: inv_freq = θ^(-2i/d), emb = [f, f]). */
    Value[] rope(Value positionIds) {
        ModelConfig.TextConfig t = config.text();
        int d = t.headDim();
        float[] invFreq = new float[d / 2];
        for (int i = 0; i < d / 2; i++) {
            invFreq[i] = (float) (1.0 / Math.pow(t.ropeTheta(), (2.0 * i) / d));
        }
        Value pos = g.unsqueeze(g.cast(positionIds, DType.FLOAT), 2);
        Value freqs = g.mul(pos, g.constant(TensorData.floats(new long[] {d / 2}, invFreq)));
        Value emb = g.unsqueeze(g.concat(-1, freqs, freqs), 2);
        // computed in float32 and then cast to the queries' type, as modeling_llama.py's LlamaRotaryEmbedding does
        return new Value[] {toCompute(g.unary("Cos", emb)), toCompute(g.unary("Sin", emb))};
    }

    /**
     * modeling_llama.py's apply_rotary_pos_emb: x·cos + rotate_half(x)·sin. The halves come from one
     * Split, whose gradient is a Concat (a Slice's would be a Pad, which ORT's CUDA provider lacks for bfloat16).
     */
    private Value applyRope(Value x, Value[] rope) {
        int half = config.text().headDim() / 2;
        List<Value> halves = g.node("Split").in(x, g.longs(half, half)).attr("axis", -1L).outs(2);
        Value rotated = g.concat(-1, g.neg(halves.get(1)), halves.get(0));
        return g.add(g.mul(x, rope[0]), g.mul(rotated, rope[1]));
    }

    /** q [b, T, H, d] and k [b, T, kv, d] with RoPE applied, and v [b, T, kv, d]. */
    Value[] projectQkv(Value h, String prefix, Value[] rope) {
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
     * j·G + i uses key/value head j (modeling_llama.py's repeat_kv), by broadcasting instead of repeating.
     */
    Value attend(Value q, Value keysT, Value values, Value mask, String prefix) {
        ModelConfig.TextConfig t = config.text();
        int heads = t.numAttentionHeads();
        int kvHeads = t.numKeyValueHeads();
        int d = t.headDim();
        Value queries = g.transpose(g.reshape(q, 0, 0, kvHeads, heads / kvHeads, d), 0, 2, 3, 1, 4);   // [b, kv, G, T, d]
        Value out = attentionCore(queries, g.unsqueeze(keysT, 2), g.unsqueeze(values, 2), 1 / Math.sqrt(d), mask, prefix); // [b, kv, G, T, d]
        out = g.reshape(g.transpose(out, 0, 3, 1, 2, 4), 0, 0, (long) heads * d);
        return linear(out, prefix + "o_proj", false);
    }

    /** SwiGLU (modeling_llama.py's LlamaMLP): down(silu(gate(h)) * up(h)). */
    Value mlp(Value h, String layer) {
        Value gate = linear(h, layer + "mlp.gate_proj", false);
        Value up = linear(h, layer + "mlp.up_proj", false);
        return linear(g.mul(g.mul(gate, g.unary("Sigmoid", gate)), up), layer + "mlp.down_proj", false);
    }
}
