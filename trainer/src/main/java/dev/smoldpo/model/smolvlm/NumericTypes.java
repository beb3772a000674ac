package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.DType;

/**
 * The element types of SmolVLM's graphs: {@code weights}, the type the frozen matrices, biases and
 * embeddings are stored in, and {@code compute}, the type the matmuls, attention products and the
 * residual stream use. An export uses one type for both ({@link Precision#types()}). Half-precision
 * weights widened to a FLOAT compute ({@link #widened}) are the CPU-runnable twin of a half-precision
 * export: the same weight bytes, in-graph Casts to FLOAT, and float32 arithmetic everywhere else.
 */
public record NumericTypes(DType weights, DType compute) {
    public NumericTypes {
        for (DType t : new DType[] {weights, compute}) {
            if (t != DType.FLOAT && t != DType.BFLOAT16 && t != DType.FLOAT16) {
                throw new IllegalArgumentException("SmolVLM's graphs use FLOAT, BFLOAT16 or FLOAT16, not " + t);
            }
        }
        if (weights != compute && compute != DType.FLOAT) {
            throw new IllegalArgumentException("weights of " + weights + " widen to a FLOAT compute only, not to " + compute);
        }
    }

    public static final NumericTypes FP32 = new NumericTypes(DType.FLOAT, DType.FLOAT);

    /** Weights stored in and computed in {@code type}. */
    public static NumericTypes of(DType type) {
        return new NumericTypes(type, type);
    }

    /** Weights stored in {@code weights} (BFLOAT16 or FLOAT16), widened to FLOAT in the graph; float32 compute. */
    public static NumericTypes widened(DType weights) {
        return new NumericTypes(weights, DType.FLOAT);
    }

    /** Whether the compute type is narrower than FLOAT (and the FLOAT islands need Casts around them). */
    public boolean halfCompute() {
        return compute != DType.FLOAT;
    }
}
