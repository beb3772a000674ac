package dev.smoldpo.model.smolvlm;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which forward activations the training graph recomputes in its backward pass instead of keeping them
 * alive from the forward pass ({@code export-artifacts --recompute}; {@link dev.smoldpo.onnx.Graph#recomputeScope}).
 * <ul>
 *   <li>{@code none}: everything the gradient needs is kept, the fastest and the largest.
 *   <li>{@code attention}: each attention's score and probability matrices ([heads, T, T] per sequence, the
 *       largest activations) are recomputed from its queries and keys, as a memory-efficient attention kernel
 *       such as PyTorch's sdpa does in its backward pass.
 *   <li>{@code vision}: as {@code attention}, and the vision encoder's layers as {@code layers} recomputes
 *       them (a tile's 1024 patches make its activations the largest per layer); the decoder keeps its own.
 *   <li>{@code layers}: transformers' gradient checkpointing ({@code gradient_checkpointing=True}): only each
 *       vision-encoder and decoder layer's input is kept, and the layer's forward pass runs again during backward.
 * </ul>
 */
public enum ActivationRecompute {
    NONE, ATTENTION, VISION, LAYERS;

    /** The name in manifest.json, the training config and on the command line. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The recompute scope of an attention's scores-softmax-values core named by {@code prefix}, or null. */
    String attentionScope(String prefix) {
        return this == NONE ? null : prefix + "attention";
    }

    /** The recompute scope of the vision encoder layer named by {@code prefix}, or null. */
    String visionLayerScope(String prefix) {
        return this == LAYERS || this == VISION ? prefix : null;
    }

    /** The recompute scope of the decoder layer named by {@code prefix}, or null. */
    String decoderLayerScope(String prefix) {
        return this == LAYERS ? prefix : null;
    }

    public static ActivationRecompute fromConfig(String name) {
        for (ActivationRecompute r : values()) {
            if (r.configName().equals(name)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown recompute setting '" + name + "'; use one of "
                + Arrays.stream(values()).map(ActivationRecompute::configName).toList());
    }
}
