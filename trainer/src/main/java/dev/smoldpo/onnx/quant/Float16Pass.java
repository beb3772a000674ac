package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.OpKey;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites a float32 graph to compute in float16, keeping float32 where float16's range or precision
 * would change the result: each float node runs in one precision, and a Cast is added where a value
 * meets a node of the other precision (once per value and precision).
 *
 * <ul>
 *   <li>float16: matrix products (MatMul, MatMulNBits), table lookups, activations.</li>
 *   <li>float32: reductions (the norm statistics), Softmax, LayerNormalization, division, square
 *       root, exp/log, sin/cos (the rotary tables), DynamicQuantizeMatMul (float32 only).</li>
 *   <li>Everything else (adds, products, masks, reshapes, concatenations) runs in float16 when one of
 *       its computed inputs is float16, else float32 — except that an op feeding only float32 ops
 *       (the x·x of a norm's mean square) stays float32, and so does an op with a constant float16
 *       cannot hold (the −1e9 of an attention mask).</li>
 * </ul>
 * Explicit Casts to float32 in the source (position ids, masks) are kept. Graph inputs and outputs keep
 * their element types except those named as float16 (the key/value cache); a float32 output computed
 * in float16 is cast back.
 */
public final class Float16Pass {
    private static final Set<String> FLOAT32_OPS = Set.of("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Softmax",
            "LogSoftmax", "LayerNormalization", "Sqrt", "Div", "Reciprocal", "Exp", "Log", "Pow", "Cos", "Sin", "Erf", "CumSum",
            OpKey.of(OpKey.MS_DOMAIN, "DynamicQuantizeMatMul"));
    private static final Set<String> FLOAT16_OPS = Set.of("MatMul", "Sigmoid", "Tanh", "Relu", "Softplus",
            OpKey.of(OpKey.MS_DOMAIN, "MatMulNBits"), OpKey.of(OpKey.MS_DOMAIN, "GatherBlockQuantized"),
            OpKey.of(OpKey.MS_DOMAIN, "Gelu"), OpKey.of(OpKey.MS_DOMAIN, "FastGelu"));

    private final GraphRebuilder b;
    private final Set<String> halfInputs;
    private final Set<String> halfOutputs;
    private final Map<Value, List<Node>> consumers = new HashMap<>();
    private final Set<Value> graphOutputs;
    /** The precision each node runs in (absent: a node without float inputs, copied as it is). */
    private final Map<Node, DType> runsIn = new HashMap<>();
    /** The element type each source float value has in the new graph. */
    private final Map<Value, DType> typeOf = new HashMap<>();
    /** Initializers some node reads in float32 (their float16 copies then get a new name). */
    private final Set<Value> readAsFloat32 = new HashSet<>();
    private final Map<Value, Value> asHalf = new HashMap<>();
    private final Map<Value, Value> asFull = new HashMap<>();

    private Float16Pass(Graph source, Set<String> halfInputs, Set<String> halfOutputs) {
        this.b = new GraphRebuilder(source);
        this.halfInputs = halfInputs;
        this.halfOutputs = halfOutputs;
        this.graphOutputs = new HashSet<>(source.outputs());
        for (Node n : source.nodes()) {
            for (Value in : n.inputs()) {
                if (in != null) {
                    consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
                }
            }
        }
    }

    /**
     * The float16 graph.
     *
     * @param halfInputs  names of float inputs declared float16 (the past key/value cache)
     * @param halfOutputs names of float outputs declared float16 (the present key/value cache)
     */
    public static Graph apply(Graph source, Set<String> halfInputs, Set<String> halfOutputs) {
        Float16Pass pass = new Float16Pass(source, halfInputs, halfOutputs);
        pass.assign();
        return pass.emit();
    }

    // ---------------------------------------------------------------- deciding

    private void assign() {
        for (Value in : b.source().inputs()) {
            typeOf.put(in, halfInputs.contains(in.name()) && in.dtype() == DType.FLOAT ? DType.FLOAT16 : in.dtype());
        }
        for (Node n : b.source().nodes()) {
            DType p = precision(n);
            if (p != null) {
                runsIn.put(n, p);
                for (Value in : n.inputs()) {
                    if (in != null && isFloat(in) && in.kind() == Value.Kind.INITIALIZER && p == DType.FLOAT) {
                        readAsFloat32.add(in);
                    }
                }
            }
            for (Value out : n.outputs()) {
                typeOf.put(out, p != null && isFloat(out) ? p : out.dtype());
            }
        }
    }

    /** The precision {@code n} runs in, or null when it has no float inputs (or is a Cast) and is copied as it is. */
    private DType precision(Node n) {
        List<Value> floats = floatInputs(n);
        if (floats.isEmpty() || n.domain().isEmpty() && n.opType().equals("Cast")) {
            return null;
        }
        String op = n.qualifiedOp();
        if (FLOAT32_OPS.contains(op)) {
            return DType.FLOAT;
        }
        if (FLOAT16_OPS.contains(op) || op.equals("Gather") && n.input(0).kind() == Value.Kind.INITIALIZER) {
            return DType.FLOAT16;
        }
        boolean halfInput = false;
        for (Value in : floats) {
            halfInput |= in.kind() != Value.Kind.INITIALIZER && typeOf(in) == DType.FLOAT16;
        }
        if (!halfInput || feedsOnlyFloat32Ops(n)) {
            return DType.FLOAT;
        }
        for (Value in : floats) {
            if (in.kind() == Value.Kind.INITIALIZER && in.source() instanceof TensorData data && !fitsHalf(data)) {
                return DType.FLOAT;
            }
        }
        return DType.FLOAT16;
    }

    private DType typeOf(Value v) {
        DType t = typeOf.get(v);
        return t != null ? t : v.dtype();
    }

    private boolean feedsOnlyFloat32Ops(Node n) {
        boolean any = false;
        for (Value out : n.outputs()) {
            if (graphOutputs.contains(out)) {
                return false;
            }
            for (Node c : consumers.getOrDefault(out, List.of())) {
                if (!FLOAT32_OPS.contains(c.qualifiedOp())) {
                    return false;
                }
                any = true;
            }
        }
        return any;
    }

    private static List<Value> floatInputs(Node n) {
        List<Value> out = new ArrayList<>();
        for (Value in : n.inputs()) {
            if (in != null && isFloat(in)) {
                out.add(in);
            }
        }
        return out;
    }

    private static boolean isFloat(Value v) {
        return v.dtype() == DType.FLOAT || v.dtype() == DType.FLOAT16;
    }

    /** Whether every value of a small float32 constant survives float16: no overflow, no non-zero flushed to zero. */
    private static boolean fitsHalf(TensorData data) {
        for (float v : data.toFloatArray()) {
            float h = Float.float16ToFloat(Float.floatToFloat16(v));
            if (!Float.isFinite(h) || v != 0 && h == 0) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- building

    private Graph emit() {
        for (Value in : b.source().inputs()) {
            b.input(in, typeOf(in));
        }
        for (Node n : b.source().nodes()) {
            DType p = runsIn.get(n);
            if (p == null) {
                b.copy(n);
                continue;
            }
            List<Value> inputs = new ArrayList<>();
            for (Value in : n.inputs()) {
                inputs.add(in == null ? null : isFloat(in) ? as(in, p) : b.get(in));
            }
            List<String> names = new ArrayList<>();
            List<Integer> castBack = new ArrayList<>();
            for (int i = 0; i < n.outputs().size(); i++) {
                Value out = n.output(i);
                if (graphOutputs.contains(out) && isFloat(out) && typeOf(out) != declared(out)) {
                    names.add(b.name(out.name(), "computed"));
                    castBack.add(i);
                } else {
                    names.add(out.name());
                }
            }
            List<Value> outs = b.copy(n, inputs, names);
            for (int i : castBack) {
                Value out = n.output(i);
                b.map(out, b.target().node("Cast").in(outs.get(i)).attr("to", (long) declared(out).onnxCode)
                        .named(b.name(out.name(), "cast")).outputNames(out.name()).out());
            }
        }
        return b.finish();
    }

    /** The element type a graph output is declared with. */
    private DType declared(Value out) {
        return halfOutputs.contains(out.name()) && out.dtype() == DType.FLOAT ? DType.FLOAT16 : out.dtype();
    }

    /** {@code v} as {@code type} in the new graph: a float16 copy of an initializer, or a Cast of a computed value. */
    private Value as(Value v, DType type) {
        if (v.kind() == Value.Kind.INITIALIZER) {
            return type == DType.FLOAT16 && v.dtype() == DType.FLOAT ? halfInitializer(v) : b.get(v);
        }
        Value m = b.get(v);
        if (m.dtype() == type) {
            return m;
        }
        Map<Value, Value> memo = type == DType.FLOAT16 ? asHalf : asFull;
        return memo.computeIfAbsent(v, k -> b.target().node("Cast").in(m).attr("to", (long) type.onnxCode)
                .named(b.name(v.name(), type == DType.FLOAT16 ? "to_fp16" : "to_fp32"))
                .outputNames(b.name(v.name(), type == DType.FLOAT16 ? "fp16" : "fp32")).out());
    }

    private Value halfInitializer(Value v) {
        return asHalf.computeIfAbsent(v, k -> {
            String name = readAsFloat32.contains(v) ? b.name(v.name(), "fp16") : v.name();
            if (v.source() instanceof TensorData data) {
                float[] values = data.toFloatArray();
                ByteBuffer bytes = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : values) {
                    bytes.putShort(Float.floatToFloat16(f));
                }
                return b.target().initializer(name, new TensorData(DType.FLOAT16, data.dims(), bytes.flip()));
            }
            return b.target().initializer(name, ComputedTensor.float16(v.name(), v.source()));
        });
    }
}
