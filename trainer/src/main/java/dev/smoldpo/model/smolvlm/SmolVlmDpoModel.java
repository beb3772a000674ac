package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.SmolVlmInputs.*;

import dev.smoldpo.artifacts.ModelDefinition;
import dev.smoldpo.artifacts.Parameter;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * SmolVLM with LoRA adapters and the DPO loss inside the graph: the policy of the training and
 * eval artifacts. Only the LoRA tensors are parameters; the loss is the mean over pairs of the
 * configured DPO variant, from the policy's completion log-probs and the fed reference log-probs.
 */
public final class SmolVlmDpoModel implements ModelDefinition {
    private final ModelConfig config;
    private final FrozenWeights weights;
    private final LoraConfig lora;
    private final DpoConfig dpo;
    private final long seed;
    private final NumericTypes types;
    private final ActivationRecompute recompute;
    private final List<LoraTargets.Target> targets;

    /** A float32 model. */
    public SmolVlmDpoModel(ModelConfig config, FrozenWeights weights, LoraConfig lora, DpoConfig dpo, long seed) {
        this(config, weights, lora, dpo, seed, NumericTypes.FP32);
    }

    /** A model whose graphs store their frozen weights and compute in {@code types} (the LoRA masters stay FLOAT). */
    public SmolVlmDpoModel(ModelConfig config, FrozenWeights weights, LoraConfig lora, DpoConfig dpo, long seed,
                           NumericTypes types) {
        this(config, weights, lora, dpo, seed, types, ActivationRecompute.NONE);
    }

    /** As above, with the training graph recomputing the activations {@code recompute} names in its backward pass. */
    public SmolVlmDpoModel(ModelConfig config, FrozenWeights weights, LoraConfig lora, DpoConfig dpo, long seed,
                           NumericTypes types, ActivationRecompute recompute) {
        this.recompute = recompute;
        this.config = config;
        this.weights = weights;
        this.lora = lora;
        this.dpo = dpo;
        this.seed = seed;
        this.types = types;
        this.targets = adapterTargets(config, lora);
    }

    public NumericTypes types() {
        return types;
    }

    public List<LoraTargets.Target> targets() {
        return targets;
    }

    /** Whether any adapter sits in the vision tower (then image features are not frozen). */
    public boolean adaptsVision() {
        return targets.stream().anyMatch(t -> t.module().startsWith("model.vision_model."));
    }

    /**
     * PEFT's initialisation: A ~ U(-1/√in, 1/√in) (kaiming-uniform with a = √5), B = 0, so the
     * adapted model starts equal to the base. Deterministic from the seed.
     */
    @Override
    public List<Parameter> trainableParameters() {
        SplittableRandom random = new SplittableRandom(seed);
        List<Parameter> params = new ArrayList<>();
        for (LoraTargets.Target t : targets) {
            int in = Math.toIntExact(t.inFeatures());
            float[] a = new float[t.r() * in];
            double bound = 1 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
            }
            params.add(new Parameter(t.loraA(), TensorData.floats(t.loraAShape(), a)));
            params.add(new Parameter(t.loraB(), TensorData.floats(t.loraBShape(), new float[Math.toIntExact(t.outFeatures() * t.r())])));
        }
        return params;
    }

    @Override
    public Forward build(Graph g, Map<String, Value> trainable) {
        return build(g, trainable, false);
    }

    /** The model with these adapters on {@code g}, the LoRA tensors taken from {@code trainable}. */
    SmolVlmGraph adaptedGraph(Graph g, Map<String, Value> trainable, boolean training) {
        Map<String, LoraTargets.Target> byModule = new LinkedHashMap<>();
        targets.forEach(t -> byModule.put(t.module(), t));
        return new SmolVlmGraph(g, config, weights, types, byModule, trainable, lora, training, recompute);
    }

    @Override
    public Forward build(Graph g, Map<String, Value> trainable, boolean training) {
        SmolVlmGraph model = adaptedGraph(g, trainable, training);
        SmolVlmGraph.VisionInputs vision = model.declareVisionInputs();
        SmolVlmGraph.TextInputs text = model.declareTextInputs();
        Value refChosen = dpo.referenceFree() ? null : g.input(REF_CHOSEN_LOGPS, DType.FLOAT, Shape.of("pairs"));
        Value refRejected = dpo.referenceFree() ? null : g.input(REF_REJECTED_LOGPS, DType.FLOAT, Shape.of("pairs"));
        Value beta = g.input(BETA, DType.FLOAT, Shape.of(1));
        Value pairWeight = g.input(PAIR_WEIGHT, DType.FLOAT, Shape.of("pairs"));
        Value hidden = model.textHidden(text, model.imageFeatures(vision));
        DpoScoring.CompletionScores s = DpoScoring.of(model, hidden, text);
        Value loss = DpoLossGraph.weightedLoss(g, dpo, s, refChosen, refRejected, beta, pairWeight);
        return new Forward(g.node("Identity").in(loss).outputNames(LOSS).out(), List.of(
                g.node("Identity").in(s.chosenLogps()).outputNames(CHOSEN_LOGPS).out(),
                g.node("Identity").in(s.rejectedLogps()).outputNames(REJECTED_LOGPS).out(),
                g.node("Identity").in(s.chosenLogitsSum()).outputNames(CHOSEN_LOGITS_SUM).out(),
                g.node("Identity").in(s.rejectedLogitsSum()).outputNames(REJECTED_LOGITS_SUM).out()));
    }

    /**
     * reference_model.onnx: the frozen base (no adapters) giving each pair's completion log-probs,
     * for the same inputs as the policy minus reference log-probs and β; plus the image features
     * when the adapters leave the vision tower frozen (they can then be cached).
     */
    public Graph referenceGraph() {
        Graph g = new Graph("reference");
        SmolVlmGraph model = new SmolVlmGraph(g, config, weights, types, Map.of(), Map.of(), null, false);
        SmolVlmGraph.VisionInputs vision = model.declareVisionInputs();
        SmolVlmGraph.TextInputs text = model.declareTextInputs();
        Value features = model.imageFeatures(vision);
        DpoScoring.CompletionScores s = DpoScoring.of(model, model.textHidden(text, features), text);
        g.output(g.node("Identity").in(s.chosenLogps()).outputNames(CHOSEN_LOGPS).out());
        g.output(g.node("Identity").in(s.rejectedLogps()).outputNames(REJECTED_LOGPS).out());
        if (!adaptsVision()) {
            // FLOAT whatever the compute type, like every output of the graphs
            g.output(g.node("Identity").in(model.layers().toFloat(features)).outputNames(IMAGE_FEATURES).out());
        }
        return g;
    }

    /** Which of this config's linear layers get adapters under {@code lora}. */
    static List<LoraTargets.Target> adapterTargets(ModelConfig config, LoraConfig lora) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (ModelConfig.WeightSpec w : config.expectedWeights()) {
            shapes.put(w.name(), w.shape());
        }
        return LoraTargets.select(shapes, lora);
    }
}
