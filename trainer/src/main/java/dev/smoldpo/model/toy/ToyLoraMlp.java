package dev.smoldpo.model.toy;

import dev.smoldpo.artifacts.ModelDefinition;
import dev.smoldpo.artifacts.Parameter;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The smallest real user of the compiler: a two-layer MLP with frozen random weights and LoRA
 * adapters (A random, B zero, as PEFT initialises them) on both linear layers, trained to match a
 * {@link ToyTask} teacher. Loss: sum over the batch of the mean squared error per example, so
 * gradients of micro-batches add up exactly to the gradient of their union.
 */
public final class ToyLoraMlp implements ModelDefinition {
    public static final String INPUT = "x";
    public static final String TARGET = "target";
    public static final String PER_EXAMPLE_LOSS = "per_example_loss";
    public static final String PREDICTION = "prediction";

    private final ToyTask.Dims dims;
    private final int rank;
    private final double scale;
    private final long seed;

    /** @param alpha LoRA alpha; the adapter output is scaled by alpha / rank, as in PEFT */
    public ToyLoraMlp(ToyTask.Dims dims, int rank, double alpha, long seed) {
        this.dims = dims;
        this.rank = rank;
        this.scale = alpha / rank;
        this.seed = seed;
    }

    public static ToyLoraMlp standard() {
        return new ToyLoraMlp(ToyTask.Dims.STANDARD, 4, 8, 1);
    }

    public ToyTask.Dims dims() {
        return dims;
    }

    @Override
    public List<Parameter> trainableParameters() {
        SplittableRandom random = new SplittableRandom(seed ^ 0x5eed);
        return List.of(
                new Parameter("fc1.lora_A", ToyTask.uniform(random, 1 / Math.sqrt(dims.in()), dims.in(), rank)),
                new Parameter("fc1.lora_B", ToyTask.zeros(rank, dims.hidden())),
                new Parameter("fc2.lora_A", ToyTask.uniform(random, 1 / Math.sqrt(dims.hidden()), dims.hidden(), rank)),
                new Parameter("fc2.lora_B", ToyTask.zeros(rank, dims.out())));
    }

    /** The frozen base weights, deterministic from the seed. */
    public ToyTask.BaseWeights baseWeights() {
        return ToyTask.BaseWeights.random(dims, seed);
    }

    @Override
    public Forward build(Graph g, Map<String, Value> trainable) {
        Value x = g.input(INPUT, DType.FLOAT, Shape.of("batch", dims.in()));
        Value target = g.input(TARGET, DType.FLOAT, Shape.of("batch", dims.out()));
        ToyTask.BaseWeights base = baseWeights();
        Value h = g.unary("Tanh", linear(g, x, "fc1", base.w1(), base.b1(), trainable));
        Value prediction = g.node("Identity").in(linear(g, h, "fc2", base.w2(), base.b2(), trainable))
                .outputNames(PREDICTION).out();
        Value diff = g.sub(prediction, target);
        Value perExample = g.node("ReduceMean").in(g.mul(diff, diff)).attr("axes", new long[] {1}).attr("keepdims", 0L)
                .outputNames(PER_EXAMPLE_LOSS).out();
        Value loss = g.node("ReduceSum").in(perExample).attr("keepdims", 0L).outputNames("loss").out();
        return new Forward(loss, List.of(perExample, prediction));
    }

    /** x W + b + scale (x A) B, with W and b frozen initializers and A, B trainable. */
    private Value linear(Graph g, Value x, String layer, TensorData w, TensorData b, Map<String, Value> trainable) {
        Value base = g.add(g.matMul(x, g.initializer(layer + ".weight", w)), g.initializer(layer + ".bias", b));
        Value lora = g.matMul(g.matMul(x, trainable.get(layer + ".lora_A")), trainable.get(layer + ".lora_B"));
        return g.add(base, g.mul(lora, g.scalar(DType.FLOAT, scale)));
    }
}
