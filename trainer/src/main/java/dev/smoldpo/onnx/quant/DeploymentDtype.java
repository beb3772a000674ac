package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The precisions a deployment graph is written in, named and suffixed as transformers.js names and
 * suffixes them (src/utils/dtypes.js, DEFAULT_DTYPE_SUFFIX_MAPPING): {@code onnx/<graph><suffix>.onnx}.
 * The graph's interface (its non-cache inputs and outputs) stays float32 in every precision, so that
 * variants of different graphs can be mixed file by file, as transformers.js' per-file {@code dtype}
 * map allows; only the decoder's key/value cache follows the compute precision.
 */
public enum DeploymentDtype {
    /** The merged float32 graphs as built. */
    FP32("fp32", "", DType.FLOAT),
    /** Float16 weights and compute; softmax, norm statistics and the interface stay float32. */
    FP16("fp16", "_fp16", DType.FLOAT16),
    /** 8-bit weights on the linear layers with activations quantized at run time; 8-bit embedding tables. */
    Q8("q8", "_quantized", DType.FLOAT),
    /** Block-wise 4-bit weights on the linear layers and embedding tables, float32 activations. */
    Q4("q4", "_q4", DType.FLOAT),
    /** Block-wise 4-bit weights with float16 activations. */
    Q4F16("q4f16", "_q4f16", DType.FLOAT16);

    private final String id;
    private final String suffix;
    private final DType compute;

    DeploymentDtype(String id, String suffix, DType compute) {
        this.id = id;
        this.suffix = suffix;
        this.compute = compute;
    }

    /** transformers.js' name: fp32, fp16, q8, q4, q4f16. */
    public String id() {
        return id;
    }

    /** The file-name suffix transformers.js looks for ("" for fp32). */
    public String suffix() {
        return suffix;
    }

    /** The element type of activations, and of the decoder's key/value cache. */
    public DType compute() {
        return compute;
    }

    /** {@code graph + suffix + ".onnx"}, e.g. decoder_model_merged_q4.onnx. */
    public String fileName(String graph) {
        return graph + suffix + ".onnx";
    }

    /** Whether the linear layers hold quantized integer weights. */
    public boolean quantized() {
        return this == Q8 || this == Q4 || this == Q4F16;
    }

    /** The precision transformers.js calls {@code name}; an error listing the known names otherwise. */
    public static DeploymentDtype of(String name) {
        String key = name.strip().toLowerCase(Locale.ROOT);
        for (DeploymentDtype p : values()) {
            if (p.id.equals(key)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "' (known: " + names() + ")");
    }

    /** "fp32, fp16, q8, q4, q4f16". */
    public static String names() {
        return Arrays.stream(values()).map(DeploymentDtype::id).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id;
    }
}
