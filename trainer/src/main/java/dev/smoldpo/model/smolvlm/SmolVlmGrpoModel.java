package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.GrpoInputs.*;

import dev.smoldpo.artifacts.ModelDefinition;
import dev.smoldpo.artifacts.Parameter;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import java.util.List;
import java.util.Map;

/**
 * SmolVLM with LoRA adapters and GRPO's loss inside the graph (the policy of GRPO training artifacts).
 * The adapters, their initialisation and the decoder are those of {@link SmolVlmDpoModel}, so the
 * checkpoints, PEFT export and deployment work unchanged; only the scoring and the loss differ: the
 * log-prob of every completion token ({@link GrpoInputs#PER_TOKEN_LOGPS}) at the sampling temperature,
 * and {@link GrpoLossGraph} over them.
 */
public final class SmolVlmGrpoModel implements ModelDefinition {
    private final boolean kl;
    /** The DPO model over the same adapters: its parameters and targets are this model's. */
    private final SmolVlmDpoModel adapters;

    /**
     * @param kl whether the loss has TRL's KL penalty (β ≠ 0), with the reference's per-token log-probs
     *           and β as inputs; without it the graph has neither (TRL's default β = 0)
     */
    public SmolVlmGrpoModel(ModelConfig config, FrozenWeights weights, LoraConfig lora, boolean kl, long seed,
                            NumericTypes types) {
        this(config, weights, lora, kl, seed, types, ActivationRecompute.NONE);
    }

    /** As above, with the training graph recomputing the activations {@code recompute} names in its backward pass. */
    public SmolVlmGrpoModel(ModelConfig config, FrozenWeights weights, LoraConfig lora, boolean kl, long seed,
                            NumericTypes types, ActivationRecompute recompute) {
        this.kl = kl;
        this.adapters = new SmolVlmDpoModel(config, weights, lora, DpoConfig.DEFAULT, seed, types, recompute);
    }

    public boolean hasKl() {
        return kl;
    }

    /** The model over the same adapters with the DPO scoring: its reference graph and targets. */
    public SmolVlmDpoModel adapters() {
        return adapters;
    }

    @Override
    public List<Parameter> trainableParameters() {
        return adapters.trainableParameters();
    }

    @Override
    public Forward build(Graph g, Map<String, Value> trainable) {
        return build(g, trainable, false);
    }

    @Override
    public Forward build(Graph g, Map<String, Value> trainable, boolean training) {
        SmolVlmGraph model = adapters.adaptedGraph(g, trainable, training);
        SmolVlmGraph.VisionInputs vision = model.declareVisionInputs();
        // the decoder reads only ids, positions, segments and the merge index; GRPO scores by its own inputs
        SmolVlmGraph.TextInputs text = new SmolVlmGraph.TextInputs(
                g.input(SmolVlmInputs.INPUT_IDS, DType.INT64, Shape.of("rows", "T")),
                g.input(SmolVlmInputs.POSITION_IDS, DType.INT64, Shape.of("rows", "T")),
                g.input(SmolVlmInputs.SEGMENT_IDS, DType.INT64, Shape.of("rows", "T")),
                g.input(SmolVlmInputs.MERGE_INDEX, DType.INT64, Shape.of("rows", "T")),
                null, null, null, null, null, null);
        Value targetIndex = g.input(TARGET_INDEX, DType.INT64, Shape.of("seqs", "C"));
        Value completionIds = g.input(COMPLETION_IDS, DType.INT64, Shape.of("seqs", "C"));
        Value mask = g.input(COMPLETION_MASK, DType.FLOAT, Shape.of("seqs", "C"));
        Value advantages = g.input(ADVANTAGES, DType.FLOAT, Shape.of("seqs"));
        Value old = g.input(OLD_PER_TOKEN_LOGPS, DType.FLOAT, Shape.of("seqs", "C"));
        Value ref = kl ? g.input(REF_PER_TOKEN_LOGPS, DType.FLOAT, Shape.of("seqs", "C")) : null;
        Value beta = kl ? g.input(BETA, DType.FLOAT, Shape.of(1)) : null;
        Value epsilonLow = g.input(EPSILON_LOW, DType.FLOAT, Shape.of(1));
        Value epsilonHigh = g.input(EPSILON_HIGH, DType.FLOAT, Shape.of(1));
        Value temperature = g.input(TEMPERATURE, DType.FLOAT, Shape.of(1));
        Value normalizer = g.input(LOSS_NORMALIZER, DType.FLOAT, Shape.of("seqs"));

        Value hidden = model.textHidden(text, model.imageFeatures(vision));
        Value logps = perTokenLogps(model, hidden, targetIndex, completionIds, temperature);
        Value loss = GrpoLossGraph.loss(g, new GrpoLossGraph.Terms(logps, mask, advantages, old, ref, beta,
                epsilonLow, epsilonHigh, normalizer));
        return new Forward(g.node("Identity").in(loss).outputNames(LOSS).out(),
                List.of(g.node("Identity").in(logps).outputNames(PER_TOKEN_LOGPS).out()));
    }

    /**
     * [seqs, C]: log-softmax(logits / temperature) at each completion token, the logits made only at the
     * positions that predict completion tokens (TRL's selective_log_softmax after logits.div_(temperature)).
     */
    private static Value perTokenLogps(SmolVlmGraph model, Value hidden, Value targetIndex, Value ids, Value temperature) {
        SmolVlmLayers layers = model.layers();
        Graph g = layers.graph();
        int d = layers.config().text().hiddenSize();
        Value selected = g.gather(g.reshape(hidden, -1, d), targetIndex, 0);                  // [seqs, C, D]
        Value logits = g.div(layers.toFloat(g.matMul(selected, layers.lmHead())), temperature); // [seqs, C, V]
        Value logp = g.logSoftmax(logits, -1);
        return g.squeeze(g.node("GatherElements").in(logp, g.unsqueeze(ids, -1)).attr("axis", -1L).out(), -1);
    }
}
