package dev.smoldpo.model.toy;

import dev.smoldpo.artifacts.ModelDefinition;
import dev.smoldpo.artifacts.Parameter;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A deep residual stack of LoRA-adapted linear layers with RMSNorm: a generated graph of any size
 * for the compiler benchmark (each layer adds ~14 forward and ~40 backward nodes).
 */
public final class DeepLoraMlp implements ModelDefinition {
    private final int layers;
    private final int width;
    private final int rank;

    public DeepLoraMlp(int layers, int width, int rank) {
        this.layers = layers;
        this.width = width;
        this.rank = rank;
    }

    @Override
    public List<Parameter> trainableParameters() {
        SplittableRandom r = new SplittableRandom(7);
        List<Parameter> params = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            params.add(new Parameter("layers." + l + ".lora_A", ToyTask.uniform(r, 1 / Math.sqrt(width), width, rank)));
            params.add(new Parameter("layers." + l + ".lora_B", ToyTask.zeros(rank, width)));
        }
        return params;
    }

    @Override
    public Forward build(Graph g, Map<String, Value> trainable) {
        SplittableRandom r = new SplittableRandom(11);
        Value x = g.input("x", DType.FLOAT, Shape.of("batch", width));
        Value target = g.input("target", DType.FLOAT, Shape.of("batch", width));
        Value h = x;
        Value scale = g.scalar(DType.FLOAT, 2.0);
        for (int l = 0; l < layers; l++) {
            TensorData w = ToyTask.uniform(r, 1 / Math.sqrt(width), width, width);
            Value normed = g.rmsNorm(h, g.initializer("layers." + l + ".norm", ones(width)), 1e-5);
            Value base = g.matMul(normed, g.initializer("layers." + l + ".weight", w));
            Value lora = g.matMul(g.matMul(normed, trainable.get("layers." + l + ".lora_A")), trainable.get("layers." + l + ".lora_B"));
            h = g.add(h, g.unary("Tanh", g.add(base, g.mul(lora, scale))));
        }
        Value diff = g.sub(h, target);
        Value loss = g.node("ReduceSum").in(g.mul(diff, diff)).attr("keepdims", 0L).outputNames("loss").out();
        return new Forward(loss, List.of());
    }

    private static TensorData ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return TensorData.floats(new long[] {n}, v);
    }
}
