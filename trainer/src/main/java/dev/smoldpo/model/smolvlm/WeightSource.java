package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorSource;

/** Where the graphs take frozen weights from, by Hugging Face name, in the element type the graph asks for. */
public interface WeightSource {
    /** The tensor as stored (embeddings, norms, biases, position tables), converted to {@code dtype}. */
    TensorSource asIs(String name, DType dtype);

    /** A linear (or conv, flattened) weight [out, in…] transposed to [in, out] for {@code x @ W^T}, in {@code dtype}. */
    TensorSource transposed(String name, DType dtype);

    /** {@link #asIs(String, DType)} in FLOAT. */
    default TensorSource asIs(String name) {
        return asIs(name, DType.FLOAT);
    }

    /** {@link #transposed(String, DType)} in FLOAT. */
    default TensorSource transposed(String name) {
        return transposed(name, DType.FLOAT);
    }
}
