package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.DType;
import java.util.Arrays;
import java.util.Locale;

/**
 * The floating-point type an export computes in ({@code export-artifacts --precision}): the frozen
 * weights are stored in it and the matmuls and attention run in it, while the LoRA masters, their
 * gradients and the optimizer stay FLOAT, and softmax, log-softmax, the norms' statistics, the
 * log-prob sums and the loss are computed in FLOAT ({@link NumericTypes}, {@link SmolVlmLayers}).
 * Only FP32 trains on ONNX Runtime's CPU provider, which has no bfloat16 or float16 MatMul kernel.
 */
public enum Precision {
    FP32(DType.FLOAT), BF16(DType.BFLOAT16), FP16(DType.FLOAT16);

    private final DType computeType;

    Precision(DType computeType) {
        this.computeType = computeType;
    }

    public DType computeType() {
        return computeType;
    }

    /** The weights and compute types of the graphs of an export at this precision. */
    public NumericTypes types() {
        return NumericTypes.of(computeType);
    }

    /** The name in manifest.json, the training config and on the command line: fp32, bf16, fp16. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether ONNX Runtime's CPU execution provider can run (and train) the graphs. */
    public boolean runsOnCpu() {
        return this == FP32;
    }

    public static Precision fromConfig(String name) {
        for (Precision p : values()) {
            if (p.configName().equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown precision '" + name + "'; use one of "
                + Arrays.stream(values()).map(Precision::configName).toList());
    }
}
