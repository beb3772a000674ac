package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.TensorSource;

/** Where the graphs take frozen weights from, by Hugging Face name. */
public interface WeightSource {
    /** The tensor as stored (embeddings, norms, biases, position tables). */
    TensorSource asIs(String name);

    /** A linear (or conv, flattened) weight [out, in…] transposed to [in, out] for {@code x @ W^T}. */
    TensorSource transposed(String name);
}
