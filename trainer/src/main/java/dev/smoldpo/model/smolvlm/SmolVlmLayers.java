package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.Map;

/**
 * The building blocks SmolVLM's graphs are made of, over one {@link Graph}: frozen weights (each an
 * initializer once per graph), linear layers with LoRA where an adapter is configured, LayerNorm,
 * RMSNorm, Llama's rotary embedding, grouped-query attention, SwiGLU and the language-model head. The
 * training graphs ({@link SmolVlmGraph}) and the deployment graphs ({@link SmolVlmDeployment}) share them,
 * so training and decoding compute the same function.
 */
public final class SmolVlmLayers {
    /** Masked attention scores: large and finite, so a fully masked (padding) row stays finite. */
    static final double MASKED_SCORE = -1e9;

    private final Graph g;
    private final ModelConfig config;
    private final WeightSource weights;
    private final Map<String, LoraTargets.Target> adapters;
    private final Map<String, Value> trainable;
    private final LoraConfig lora;
    private final Value dropoutMode;
    private long dropoutSeed = 1;

    SmolVlmLayers(Graph g, ModelConfig config, WeightSource weights, Map<String, LoraTargets.Target> adapters,
                  Map<String, Value> trainable, LoraConfig lora, boolean training) {
        this.g = g;
        this.config = config;
        this.weights = weights;
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

    /** A frozen weight as stored. */
    Value frozen(String name) {
        return g.hasValue(name) ? g.value(name) : g.initializer(name, weights.asIs(name));
    }

    /** A frozen [out, in] weight transposed to [in, out] for {@code x W^T} as one MatMul. */
    Value frozenT(String weightName) {
        String name = weightName + ".T";
        return g.hasValue(name) ? g.value(name) : g.initializer(name, weights.transposed(weightName));
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
        Value a = trainable.get(target.loraA());
        Value b = trainable.get(target.loraB());
        Value input = dropoutMode == null ? x : g.dropout(x, lora.dropout(), dropoutMode, dropoutSeed++).get(0);
        Value down = g.matMul(input, g.transpose(a, 1, 0));
        Value delta = g.matMul(down, g.transpose(b, 1, 0));
        return g.add(y, g.mul(delta, g.scalar(DType.FLOAT, lora.scale())));
    }

    Value layerNorm(Value x, String module, double eps) {
        return g.node("LayerNormalization").in(x, frozen(module + ".weight"), frozen(module + ".bias"))
                .attr("axis", -1L).attr("epsilon", eps).out();
    }

    Value rmsNorm(Value x, String weightName, double eps) {
        return g.rmsNorm(x, frozen(weightName), eps);
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
        return new Value[] {g.unary("Cos", emb), g.unary("Sin", emb)};
    }

    /** modeling_llama.py's apply_rotary_pos_emb: x·cos + rotate_half(x)·sin. */
    private Value applyRope(Value x, Value[] rope) {
        int half = config.text().headDim() / 2;
        Value first = g.node("Slice").in(x, g.longs(0), g.longs(half), g.longs(-1)).out();
        Value second = g.node("Slice").in(x, g.longs(half), g.longs(Long.MAX_VALUE), g.longs(-1)).out();
        Value rotated = g.concat(-1, g.neg(second), first);
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
        Value scores = g.mul(g.matMul(queries, g.unsqueeze(keysT, 2)), g.scalar(DType.FLOAT, 1 / Math.sqrt(d)));
        scores = g.where(mask, scores, g.scalar(DType.FLOAT, MASKED_SCORE));
        Value out = g.matMul(g.softmax(scores, -1), g.unsqueeze(values, 2));                          // [b, kv, G, T, d]
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
