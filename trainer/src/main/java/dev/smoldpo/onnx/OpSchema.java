package dev.smoldpo.onnx;

import java.util.List;

/** What the builder knows about an operator: how many inputs, and its output types. */
public record OpSchema(int minInputs, int maxInputs, Inference inference) {

    /** The inferred type of one output; {@code constant} is set when its value is known at build time. */
    public record Out(DType dtype, Shape shape, boolean sequence, TensorData constant) {
        public static Out of(DType dtype, Shape shape) {
            return new Out(dtype, shape, false, null);
        }

        public static Out constant(TensorData data) {
            return new Out(data.dtype(), data.shape(), false, data);
        }
    }

    /** Computes output types from the node (its inputs and attributes), or throws GraphException. */
    @FunctionalInterface
    public interface Inference {
        List<Out> infer(Node node, int outputCount);
    }

    List<Out> infer(Node node, int outputCount) {
        int n = node.inputs().size();
        if (n < minInputs || n > maxInputs) {
            throw new GraphException(node + " takes " + (minInputs == maxInputs ? minInputs : minInputs + ".." + maxInputs)
                    + " inputs, got " + n);
        }
        for (int i = 0; i < minInputs; i++) {
            if (node.input(i) == null) {
                throw new GraphException(node + ": required input " + i + " is missing");
            }
        }
        return inference.infer(node, outputCount);
    }
}
