package dev.smoldpo.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The nodes of a CUDA session that ONNX Runtime ran on the CPU, split into shape arithmetic and
 * compute.
 *
 * <p>With the CUDA execution provider ORT deliberately keeps some nodes on the CPU: a CUDA kernel
 * that reads a shape, axes or sizes (Reshape's shape, Slice's starts, Expand's shape, Range's
 * bounds, ...) wants that small int64 tensor in host memory, so ORT places the nodes computing it
 * there too (onnxruntime/core/framework/fallback_cpu_capability.cc). Those are cheap and expected.
 * Anything else on the CPU is compute that CUDA has no kernel for (for these types at this
 * opset): it runs on the host with its tensors copied across PCIe every step.
 *
 * <p>Shape arithmetic here: an operator of {@link #SHAPE_OPS} whose tensors are all integer or
 * boolean with at most {@link #MAX_SHAPE_ELEMENTS} elements each; Shape and Size read only their
 * input's dimensions, so their input may be any tensor. The same walk also moves small index
 * computations to the CPU: on an H200 the demo's training graph had two int64 Adds of [32,12] and
 * [32,33] index tensors there (990 nodes on CUDA otherwise). Integer-only nodes of those operators
 * with at most {@link #MAX_INDEX_ELEMENTS} elements per tensor count as such index arithmetic
 * (32 KiB of int64 at most per tensor): still listed by {@code report}, never failed.
 */
public final class CpuPlacements {
    /** Operators that appear in shape computations. */
    public static final Set<String> SHAPE_OPS = Set.of("Shape", "Size", "Gather", "GatherElements", "Slice", "Concat",
            "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Identity", "Cast", "Range", "ConstantOfShape", "Expand", "Tile",
            "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Where", "Add", "Sub", "Mul",
            "Div", "Mod", "Neg", "Abs", "Min", "Max", "Sign", "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin");
    /** A shape vector has one element per dimension; anything bigger is data, not a shape. */
    public static final long MAX_SHAPE_ELEMENTS = 64;
    /** Index tensors (positions, gather offsets) of a batch: small integer data, not model compute. */
    public static final long MAX_INDEX_ELEMENTS = 4096;
    private static final Set<String> INTEGER_TYPES = Set.of("int64", "int32", "int16", "int8", "uint64", "uint32", "uint16",
            "uint8", "bool");

    private final List<ProfiledNode> shapeArithmetic;
    private final List<ProfiledNode> compute;
    private final int total;

    private CpuPlacements(List<ProfiledNode> shapeArithmetic, List<ProfiledNode> compute, int total) {
        this.shapeArithmetic = shapeArithmetic;
        this.compute = compute;
        this.total = total;
    }

    public static CpuPlacements of(List<ProfiledNode> nodes) {
        List<ProfiledNode> shape = new ArrayList<>();
        List<ProfiledNode> compute = new ArrayList<>();
        for (ProfiledNode n : nodes) {
            if (n.onCpu()) {
                (isShapeArithmetic(n) ? shape : compute).add(n);
            }
        }
        return new CpuPlacements(List.copyOf(shape), List.copyOf(compute), nodes.size());
    }

    public static boolean isShapeArithmetic(ProfiledNode n) {
        if (!SHAPE_OPS.contains(n.op())) {
            return false;
        }
        boolean metadataOnly = n.op().equals("Shape") || n.op().equals("Size");
        List<ProfiledNode.Tensor> tensors = new ArrayList<>(n.outputs());
        if (!metadataOnly) {
            tensors.addAll(n.inputs());
        }
        long limit = n.op().equals("Shape") || n.op().equals("Size") ? MAX_SHAPE_ELEMENTS : MAX_INDEX_ELEMENTS;
        return tensors.stream().allMatch(t -> INTEGER_TYPES.contains(t.type()) && t.elements() <= limit);
    }

    public List<ProfiledNode> shapeArithmetic() {
        return shapeArithmetic;
    }

    public List<ProfiledNode> compute() {
        return compute;
    }

    /** Nodes the profile saw run, on any provider. */
    public int total() {
        return total;
    }
}
