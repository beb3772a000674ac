package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.Graph;
import java.util.Set;

/** A float32 graph in one {@link DeploymentDtype}: the weight quantization pass, then the float16 pass where the precision computes in float16. */
public final class DtypePasses {
    /** MatMulNBits' and GatherBlockQuantized's block size unless configured: 32 weights per scale. */
    public static final int DEFAULT_BLOCK_SIZE = 32;

    private DtypePasses() {}

    /**
     * @param blockSize   weights per scale of 4-bit (and 8-bit table) quantization
     * @param halfInputs  float inputs that become float16 with float16 compute (the past key/value cache)
     * @param halfOutputs float outputs that become float16 with float16 compute (the present key/value cache)
     */
    public static Graph apply(Graph fp32, DeploymentDtype precision, int blockSize, Set<String> halfInputs, Set<String> halfOutputs) {
        return switch (precision) {
            case FP32 -> fp32;
            case FP16 -> Float16Pass.apply(fp32, halfInputs, halfOutputs);
            case Q8 -> WeightQuantizationPass.apply(fp32, 8, blockSize, false);
            case Q4 -> WeightQuantizationPass.apply(fp32, 4, blockSize, false);
            case Q4F16 -> Float16Pass.apply(WeightQuantizationPass.apply(fp32, 4, blockSize, true), halfInputs, halfOutputs);
        };
    }
}
