package dev.smoldpo.model.smolvlm;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.OpKey;
import java.util.Map;
import java.util.Set;

/**
 * The ops ONNX Runtime's CUDA execution provider has bfloat16 and float16 kernels for, at the opsets
 * our graphs import ("" 17, com.microsoft 1), from microsoft/onnxruntime docs/OperatorKernels.md,
 * section "Operators implemented by CUDAExecutionProvider" (read at commit 001d12d; the rows for
 * opsets up to 17 are those of 1.28). Only the ops our graphs can emit are listed. Notably without a
 * bfloat16 kernel: Pad [13, 17], Reciprocal, ReduceMean [1, 17], ReduceMax, LogSoftmax, Log,
 * Softplus, Sin, Cos, Less/Greater/Equal; Where has bfloat16 from opset 16 only.
 */
final class CudaHalfPrecisionKernels {
    private CudaHalfPrecisionKernels() {}

    /** Ops with both a bfloat16 and a float16 CUDA kernel at our opsets. */
    private static final Set<String> BOTH = Set.of("Add", "Sub", "Mul", "Div", "Neg", "Pow", "MatMul", "Gemm", "Gather",
            "GatherElements", "Concat", "Split", "Slice", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Expand",
            "Identity", "Cast", "Where", "Sum", "ReduceSum", "Sigmoid", "Tanh", "Sqrt", "Erf", "Exp", "Relu", "Dropout",
            "ConstantOfShape", "ScatterND", "ScatterElements", "Shape", "Size", "Softmax", "LayerNormalization", "Max", "Min",
            OpKey.of(OpKey.MS_DOMAIN, "FastGelu"), OpKey.of(OpKey.MS_DOMAIN, "Gelu"));

    /** Ops with a float16 but no bfloat16 CUDA kernel at our opsets. */
    private static final Set<String> FLOAT16_ONLY = Set.of("Pad", "Reciprocal", "ReduceMean", "ReduceMax", "LogSoftmax",
            "Log", "Softplus", "Sin", "Cos", "Less", "Greater", "Equal", "TopK");

    private static final Map<DType, Set<String>> EXTRA = Map.of(DType.FLOAT16, FLOAT16_ONLY, DType.BFLOAT16, Set.of());

    /** Whether CUDA has a kernel of {@code qualifiedOp} for tensors of {@code type} (FLOAT16 or BFLOAT16). */
    static boolean has(String qualifiedOp, DType type) {
        return BOTH.contains(qualifiedOp) || EXTRA.get(type).contains(qualifiedOp);
    }
}
