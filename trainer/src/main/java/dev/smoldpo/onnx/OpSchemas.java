package dev.smoldpo.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The operators the graph builder accepts (opset 17 and ORT's com.microsoft domain), each with its
 * type and shape inference. Shapes may be symbolic; a provable mismatch is a {@link GraphException}.
 *
 * <p>Longer than the project's ~400 lines on purpose: it is one table, an entry per operator, read by
 * looking an operator up.
 */
public final class OpSchemas {
    private static final Map<String, OpSchema> SCHEMAS = new TreeMap<>();

    private OpSchemas() {}

    public static OpSchema get(String qualifiedOp) {
        return SCHEMAS.get(qualifiedOp);
    }

    public static String knownOps() {
        return String.join(", ", new TreeSet<>(SCHEMAS.keySet()));
    }

    static void register(String op, int minIn, int maxIn, OpSchema.Inference inference) {
        SCHEMAS.put(op, new OpSchema(minIn, maxIn, inference));
    }

    static {
        QuantizedOpSchemas.register();
        for (String op : List.of("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min")) {
            register(op, 2, 2, (n, c) -> List.of(OpSchema.Out.of(sameFloat(n, 0, op.equals("Pow") ? 1 : 2),
                    broadcast(n, n.input(0).shape(), n.input(1).shape()))));
        }
        for (String op : List.of("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")) {
            register(op, 2, 2, (n, c) -> {
                sameType(n, 0, 2);
                return List.of(OpSchema.Out.of(DType.BOOL, broadcast(n, n.input(0).shape(), n.input(1).shape())));
            });
        }
        for (String op : List.of("And", "Or")) {
            register(op, 2, 2, (n, c) -> List.of(OpSchema.Out.of(DType.BOOL, broadcast(n, n.input(0).shape(), n.input(1).shape()))));
        }
        register("Sum", 1, Integer.MAX_VALUE, (n, c) -> {
            Shape s = n.input(0).shape();
            for (int i = 1; i < n.inputs().size(); i++) {
                s = broadcast(n, s, n.input(i).shape());
            }
            return List.of(OpSchema.Out.of(sameFloat(n, 0, n.inputs().size()), s));
        });
        // Transcendental and normalising ops are defined on floating types only (ONNX's T = float types).
        for (String op : List.of("Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Sigmoid", "Softplus", "Sin", "Cos", "Erf")) {
            register(op, 1, 1, (n, c) -> List.of(OpSchema.Out.of(floating(n, 0), n.input(0).shape())));
        }
        for (String op : List.of("Neg", "Relu", "Abs", "Identity")) {
            register(op, 1, 1, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape())));
        }
        register("Not", 1, 1, (n, c) -> {
            requireType(n, 0, DType.BOOL);
            return List.of(OpSchema.Out.of(DType.BOOL, n.input(0).shape()));
        });
        register(OpKey.of(OpKey.MS_DOMAIN, "Gelu"), 1, 1, (n, c) -> List.of(OpSchema.Out.of(floating(n, 0), n.input(0).shape())));
        register(OpKey.of(OpKey.MS_DOMAIN, "FastGelu"), 1, 2, (n, c) -> {
            DType t = floating(n, 0);
            if (n.input(1) != null) {
                sameType(n, 0, 2);
            }
            return List.of(OpSchema.Out.of(t, n.input(1) == null ? n.input(0).shape()
                    : broadcast(n, n.input(0).shape(), n.input(1).shape())));
        });
        for (String op : List.of("Softmax", "LogSoftmax")) {
            register(op, 1, 1, (n, c) -> {
                axis(n, n.input(0).shape(), n.longAttr("axis", -1));
                return List.of(OpSchema.Out.of(floating(n, 0), n.input(0).shape()));
            });
        }
        register("Cast", 1, 1, (n, c) -> {
            long to = n.longAttr("to", -1);
            DType target;
            try {
                target = DType.fromOnnx((int) to);
            } catch (IllegalArgumentException e) {
                throw new GraphException(n + ": 'to' = " + to + " is not an element type we build (" + e.getMessage() + ")");
            }
            return List.of(OpSchema.Out.of(target, n.input(0).shape()));
        });
        register("MatMul", 2, 2, OpSchemas::matMul);
        // com.microsoft FusedMatMul: alpha * op(A) op(B), op transposing the last two axes where transA / transB
        // is set (contrib_ops/cpu/math/fused_matmul.cc); the gradient graphs use it to read a frozen weight
        // transposed without a Transpose node for ORT's constant folding to turn into a transposed copy
        register(OpKey.of(OpKey.MS_DOMAIN, "FusedMatMul"), 2, 2, OpSchemas::matMul);
        register("ReduceSum", 1, 2, (n, c) -> reduce(n, n.input(1) == null ? null : constantLongs(n.input(1))));
        for (String op : List.of("ReduceMean", "ReduceMax", "ReduceMin")) {
            register(op, 1, 1, (n, c) -> reduce(n, n.longsAttr("axes")));
        }
        register("Reshape", 2, 2, OpSchemas::reshape);
        register("Transpose", 1, 1, OpSchemas::transpose);
        register("Unsqueeze", 2, 2, OpSchemas::unsqueeze);
        register("Squeeze", 1, 2, OpSchemas::squeeze);
        register("Concat", 1, Integer.MAX_VALUE, OpSchemas::concat);
        register("Split", 1, 2, OpSchemas::split);
        register("Slice", 3, 5, OpSchemas::slice);
        register("Gather", 2, 2, OpSchemas::gather);
        register("GatherElements", 2, 2, (n, c) -> {
            requireSameRank(n, n.input(0).shape(), n.input(1).shape());
            return List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(1).shape()));
        });
        register("Where", 3, 3, (n, c) -> {
            if (n.input(0).dtype() != DType.BOOL) {
                throw new GraphException(n + ": condition '" + n.input(0).name() + "' must be BOOL");
            }
            sameType(n, 1, 3);
            Shape s = broadcast(n, broadcast(n, n.input(0).shape(), n.input(1).shape()), n.input(2).shape());
            return List.of(OpSchema.Out.of(n.input(1).dtype(), s));
        });
        register("Expand", 2, 2, OpSchemas::expand);
        register("Shape", 1, 1, OpSchemas::shapeOp);
        register("Size", 1, 1, (n, c) -> List.of(n.input(0).shape().isFullyFixed()
                ? OpSchema.Out.constant(TensorData.longs(new long[0], n.input(0).shape().elementCount()))
                : OpSchema.Out.of(DType.INT64, Shape.SCALAR)));
        register("ConstantOfShape", 1, 1, (n, c) -> {
            Object v = n.attributes().get("value");
            DType t = v == null ? DType.FLOAT : ((TensorData) v).dtype();
            return List.of(OpSchema.Out.of(t, shapeFromTensor(n, n.input(0))));
        });
        register("Range", 3, 3, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), Shape.unknown(1))));
        register("NonZero", 1, 1, (n, c) -> List.of(OpSchema.Out.of(DType.INT64,
                new Shape(List.of(n.input(0).shape().hasRank() ? Dim.of(n.input(0).rank()) : Dim.UNKNOWN, Dim.UNKNOWN)))));
        register("LayerNormalization", 2, 3, OpSchemas::layerNorm);
        register("Dropout", 1, 3, (n, c) -> {
            DType t = floating(n, 0);
            if (n.input(1) != null) {
                floating(n, 1); // the ratio's type T1 may differ from the data's (a FLOAT ratio for BFLOAT16 data)
            }
            if (n.input(2) != null) {
                requireType(n, 2, DType.BOOL);
            }
            return List.of(OpSchema.Out.of(t, n.input(0).shape()), OpSchema.Out.of(DType.BOOL, n.input(0).shape()))
                    .subList(0, Math.max(1, Math.min(c, 2)));
        });
        register("ScatterElements", 3, 3, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape())));
        register("ScatterND", 3, 3, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape())));
        register("Pad", 2, 4, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape().hasRank()
                ? Shape.unknown(n.input(0).rank()) : Shape.UNKNOWN_RANK)));
        register("Trilu", 1, 2, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape())));
        register("CumSum", 2, 2, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape())));
        register("Tile", 2, 2, (n, c) -> List.of(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape().hasRank()
                ? Shape.unknown(n.input(0).rank()) : Shape.UNKNOWN_RANK)));
        register("TopK", 2, 2, (n, c) -> {
            Shape s = n.input(0).shape().hasRank() ? Shape.unknown(n.input(0).rank()) : Shape.UNKNOWN_RANK;
            return List.of(OpSchema.Out.of(n.input(0).dtype(), s), OpSchema.Out.of(DType.INT64, s)).subList(0, Math.max(1, Math.min(c, 2)));
        });
        // Sequences of tensors (the optimizer graph's parameter and gradient lists): element shapes vary.
        register("SequenceAt", 2, 2, (n, c) -> {
            requireSequence(n, 0, true);
            return List.of(OpSchema.Out.of(n.input(0).dtype(), Shape.UNKNOWN_RANK));
        });
        register("SequenceConstruct", 1, Integer.MAX_VALUE, (n, c) -> {
            for (int i = 0; i < n.inputs().size(); i++) {
                requireSequence(n, i, false);
            }
            return List.of(new OpSchema.Out(sameFloat(n, 0, n.inputs().size()), Shape.UNKNOWN_RANK, true, null));
        });
        // ORT training ops, only ever emitted by our own artifact builders.
        register(OpKey.of(OpKey.MS_DOMAIN, "InPlaceAccumulatorV2"), 2, 3, (n, c) -> {
            requireSameShape(n, n.input(0), n.input(1));
            // ORT would widen a half-precision gradient into a FLOAT buffer; we never rely on that: LoRA's
            // masters are FLOAT and their gradients are cast back to FLOAT in the graph, so a gradient of
            // another type here is a missing Cast.
            if (n.input(1).dtype() != n.input(0).dtype()) {
                throw new GraphException("type mismatch in " + n + ": gradient '" + n.input(1).name() + "' is "
                        + n.input(1).dtype() + " but its accumulation buffer '" + n.input(0).name() + "' is "
                        + n.input(0).dtype());
            }
            List<OpSchema.Out> outs = new ArrayList<>();
            outs.add(OpSchema.Out.of(DType.BOOL, Shape.fixed(1)));
            if (c > 1) {
                outs.add(OpSchema.Out.of(n.input(0).dtype(), n.input(0).shape()));
            }
            return outs;
        });
        register(OpKey.of(OpKey.MS_DOMAIN, "InplaceClipGradNorm"), 1, 1,
                (n, c) -> List.of(new OpSchema.Out(DType.FLOAT, Shape.UNKNOWN_RANK, true, null)));
        register(OpKey.of(OpKey.MS_DOMAIN, "AdamWOptimizer"), 6, 7, (n, c) -> {
            List<OpSchema.Out> outs = new ArrayList<>();
            outs.add(OpSchema.Out.of(DType.BOOL, Shape.fixed(1)));
            for (int i = 1; i < c; i++) {
                outs.add(new OpSchema.Out(DType.FLOAT, Shape.UNKNOWN_RANK, true, null));
            }
            return outs;
        });
    }

    // ---- helpers shared by the rules ----

    private static DType sameFloat(Node n, int from, int to) {
        return sameType(n, from, to);
    }

    /** The type of input {@code i}, which must be a floating type. */
    private static DType floating(Node n, int i) {
        DType t = n.input(i).dtype();
        if (!t.isFloating()) {
            throw new GraphException(n + ": input '" + n.input(i).name() + "' is " + t + "; the op takes floating types only");
        }
        return t;
    }

    private static void requireType(Node n, int i, DType expected) {
        if (n.input(i).dtype() != expected) {
            throw new GraphException(n + ": input '" + n.input(i).name() + "' must be " + expected + ", not "
                    + n.input(i).dtype());
        }
    }

    private static DType sameType(Node n, int from, int to) {
        DType t = n.input(from).dtype();
        for (int i = from + 1; i < to; i++) {
            if (n.input(i).dtype() != t) {
                throw new GraphException("type mismatch in " + n + ": '" + n.input(from).name() + "' is " + t
                        + " but '" + n.input(i).name() + "' is " + n.input(i).dtype());
            }
        }
        return t;
    }

    /** Numpy-style broadcasting with symbolic dims. */
    public static Shape broadcast(Node n, Shape a, Shape b) {
        if (!a.hasRank() || !b.hasRank()) {
            return Shape.UNKNOWN_RANK;
        }
        int rank = Math.max(a.rank(), b.rank());
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            int ia = i - (rank - a.rank());
            int ib = i - (rank - b.rank());
            Dim da = ia < 0 ? Dim.of(1) : a.dims().get(ia);
            Dim db = ib < 0 ? Dim.of(1) : b.dims().get(ib);
            out.add(broadcastDim(n, a, b, i, da, db));
        }
        return new Shape(out);
    }

    private static Dim broadcastDim(Node n, Shape a, Shape b, int axis, Dim da, Dim db) {
        if (da.isFixed() && da.value() == 1) {
            return db;
        }
        if (db.isFixed() && db.value() == 1) {
            return da;
        }
        if (da.sameAs(db)) {
            return da;
        }
        if (da.isFixed() && db.isFixed()) {
            throw new GraphException("shape mismatch in " + n + ": " + names(n) + " have shapes " + a + " and " + b
                    + ", which do not broadcast (axis " + axis + ": " + da + " vs " + db + ")");
        }
        if (da.isFixed()) {
            return da;
        }
        if (db.isFixed()) {
            return db;
        }
        return Dim.UNKNOWN;
    }

    private static String names(Node n) {
        List<String> names = new ArrayList<>();
        for (Value v : n.inputs()) {
            if (v != null) {
                names.add("'" + v.name() + "'");
            }
        }
        return "inputs " + String.join(", ", names);
    }

    static int axis(Node n, Shape s, long axis) {
        if (!s.hasRank()) {
            return (int) axis;
        }
        long normalized = axis < 0 ? axis + s.rank() : axis;
        if (normalized < 0 || normalized >= Math.max(1, s.rank())) {
            throw new GraphException(n + ": axis " + axis + " is out of range for '" + n.input(0).name() + "' of shape " + s);
        }
        return (int) normalized;
    }

    /** The value of a constant INT64 input, or null when only known at run time. */
    public static long[] constantLongs(Value v) {
        return v == null || v.constant() == null ? null : v.constant().toLongArray();
    }

    private static void requireSameRank(Node n, Shape a, Shape b) {
        if (a.hasRank() && b.hasRank() && a.rank() != b.rank()) {
            throw new GraphException("rank mismatch in " + n + ": " + a + " vs " + b);
        }
    }

    private static void requireSameShape(Node n, Value a, Value b) {
        Shape sa = a.shape();
        Shape sb = b.shape();
        if (!sa.hasRank() || !sb.hasRank()) {
            return;
        }
        boolean ok = sa.rank() == sb.rank();
        for (int i = 0; ok && i < sa.rank(); i++) {
            Dim x = sa.dim(i);
            Dim y = sb.dim(i);
            ok = !(x.isFixed() && y.isFixed() && x.value() != y.value());
        }
        if (!ok) {
            throw new GraphException("shape mismatch in " + n + ": '" + a.name() + "' " + sa + " vs '" + b.name() + "' " + sb);
        }
    }

    private static List<OpSchema.Out> matMul(Node n, int c) {
        Value a = n.input(0);
        Value b = n.input(1);
        DType t = sameType(n, 0, 2);
        Shape sa = a.shape();
        Shape sb = b.shape();
        if (!sa.hasRank() || !sb.hasRank()) {
            return List.of(OpSchema.Out.of(t, Shape.UNKNOWN_RANK));
        }
        if (sa.rank() < 2 || sb.rank() < 2) {
            throw new GraphException(n + ": we only build MatMul on inputs of rank >= 2, got '" + a.name() + "' " + sa
                    + " and '" + b.name() + "' " + sb);
        }
        if (n.longAttr("transBatchA", 0) != 0 || n.longAttr("transBatchB", 0) != 0) {
            throw new GraphException(n + ": we do not build FusedMatMul with transBatchA / transBatchB");
        }
        sa = n.longAttr("transA", 0) != 0 ? lastTwoSwapped(sa) : sa;
        sb = n.longAttr("transB", 0) != 0 ? lastTwoSwapped(sb) : sb;
        Dim k1 = sa.dim(-1);
        Dim k2 = sb.dim(-2);
        if (k1.isFixed() && k2.isFixed() && k1.value() != k2.value()) {
            throw new GraphException("shape mismatch in " + n + ": '" + a.name() + "' " + sa + " times '" + b.name()
                    + "' " + sb + " (inner dims " + k1 + " vs " + k2 + ")");
        }
        Shape batchA = new Shape(sa.dims().subList(0, sa.rank() - 2));
        Shape batchB = new Shape(sb.dims().subList(0, sb.rank() - 2));
        List<Dim> out = new ArrayList<>(broadcast(n, batchA, batchB).dims());
        out.add(sa.dim(-2));
        out.add(sb.dim(-1));
        return List.of(OpSchema.Out.of(t, new Shape(out)));
    }

    private static Shape lastTwoSwapped(Shape s) {
        List<Dim> dims = new ArrayList<>(s.dims());
        java.util.Collections.swap(dims, dims.size() - 1, dims.size() - 2);
        return new Shape(dims);
    }

    private static void requireSequence(Node n, int input, boolean sequence) {
        if (n.input(input).isSequence() != sequence) {
            throw new GraphException(n + ": input '" + n.input(input).name() + "' must be a " + (sequence ? "sequence" : "tensor"));
        }
    }

    private static List<OpSchema.Out> reduce(Node n, long[] axes) {
        Value x = n.input(0);
        boolean keep = n.longAttr("keepdims", 1) == 1;
        Shape s = x.shape();
        boolean noopEmpty = n.longAttr("noop_with_empty_axes", 0) == 1;
        if (!s.hasRank()) {
            return List.of(OpSchema.Out.of(x.dtype(), Shape.UNKNOWN_RANK));
        }
        if (axes == null && n.input(1) != null) {
            // axes known only at run time: the rank is known when dims are kept
            return List.of(OpSchema.Out.of(x.dtype(), keep ? Shape.unknown(s.rank()) : Shape.UNKNOWN_RANK));
        }
        boolean[] reduced = new boolean[s.rank()];
        if (axes == null || axes.length == 0) {
            Arrays.fill(reduced, !noopEmpty);
        } else {
            for (long a : axes) {
                reduced[axis(n, s, a)] = true;
            }
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < s.rank(); i++) {
            if (!reduced[i]) {
                out.add(s.dim(i));
            } else if (keep) {
                out.add(Dim.of(1));
            }
        }
        return List.of(OpSchema.Out.of(x.dtype(), new Shape(out)));
    }

    private static List<OpSchema.Out> reshape(Node n, int c) {
        Value x = n.input(0);
        long[] target = constantLongs(n.input(1));
        if (target == null) {
            Shape ts = n.input(1).shape();
            int rank = ts.hasRank() && ts.rank() == 1 && ts.dim(0).isFixed() ? (int) ts.dim(0).value() : -1;
            return List.of(OpSchema.Out.of(x.dtype(), rank < 0 ? Shape.UNKNOWN_RANK : Shape.unknown(rank)));
        }
        Shape s = x.shape();
        List<Dim> out = new ArrayList<>();
        int inferred = -1;
        for (int i = 0; i < target.length; i++) {
            long t = target[i];
            if (t == 0) {
                out.add(s.hasRank() && i < s.rank() ? s.dim(i) : Dim.UNKNOWN);
            } else if (t == -1) {
                if (inferred >= 0) {
                    throw new GraphException(n + ": more than one -1 in the target shape " + Arrays.toString(target));
                }
                inferred = i;
                out.add(Dim.UNKNOWN);
            } else if (t > 0) {
                out.add(Dim.of(t));
            } else {
                throw new GraphException(n + ": invalid target dim " + t);
            }
        }
        if (s.isFullyFixed()) {
            long total = s.elementCount();
            long known = 1;
            for (int i = 0; i < out.size(); i++) {
                if (i != inferred) {
                    known *= out.get(i).value();
                }
            }
            if (inferred >= 0) {
                if (known == 0 || total % known != 0) {
                    throw new GraphException("shape mismatch in " + n + ": cannot reshape '" + x.name() + "' " + s
                            + " to " + Arrays.toString(target));
                }
                out.set(inferred, Dim.of(total / known));
            } else if (known != total) {
                throw new GraphException("shape mismatch in " + n + ": cannot reshape '" + x.name() + "' " + s
                        + " (" + total + " elements) to " + Arrays.toString(target));
            }
        }
        return List.of(OpSchema.Out.of(x.dtype(), new Shape(out)));
    }

    private static List<OpSchema.Out> transpose(Node n, int c) {
        Value x = n.input(0);
        long[] perm = n.longsAttr("perm");
        Shape s = x.shape();
        if (!s.hasRank()) {
            return List.of(OpSchema.Out.of(x.dtype(), Shape.UNKNOWN_RANK));
        }
        if (perm == null) {
            perm = new long[s.rank()];
            for (int i = 0; i < perm.length; i++) {
                perm[i] = perm.length - 1 - i;
            }
        }
        if (perm.length != s.rank()) {
            throw new GraphException(n + ": perm " + Arrays.toString(perm) + " does not fit '" + x.name() + "' " + s);
        }
        List<Dim> out = new ArrayList<>();
        for (long p : perm) {
            out.add(s.dim((int) p));
        }
        return List.of(OpSchema.Out.of(x.dtype(), new Shape(out)));
    }

    private static List<OpSchema.Out> unsqueeze(Node n, int c) {
        Value x = n.input(0);
        long[] axes = constantLongs(n.input(1));
        Shape s = x.shape();
        if (axes == null || !s.hasRank()) {
            return List.of(OpSchema.Out.of(x.dtype(), s.hasRank() && n.input(1).shape().isFullyFixed()
                    ? Shape.unknown(s.rank() + (int) n.input(1).shape().elementCount()) : Shape.UNKNOWN_RANK));
        }
        int rank = s.rank() + axes.length;
        Dim[] out = new Dim[rank];
        for (long a : axes) {
            int ax = (int) (a < 0 ? a + rank : a);
            if (ax < 0 || ax >= rank || out[ax] != null) {
                throw new GraphException(n + ": bad axes " + Arrays.toString(axes) + " for '" + x.name() + "' " + s);
            }
            out[ax] = Dim.of(1);
        }
        int j = 0;
        for (int i = 0; i < rank; i++) {
            if (out[i] == null) {
                out[i] = s.dim(j++);
            }
        }
        return List.of(OpSchema.Out.of(x.dtype(), new Shape(Arrays.asList(out))));
    }

    private static List<OpSchema.Out> squeeze(Node n, int c) {
        Value x = n.input(0);
        long[] axes = n.input(1) == null ? null : constantLongs(n.input(1));
        Shape s = x.shape();
        if (axes == null || !s.hasRank()) {
            return List.of(OpSchema.Out.of(x.dtype(), Shape.UNKNOWN_RANK));
        }
        boolean[] drop = new boolean[s.rank()];
        for (long a : axes) {
            int ax = axis(n, s, a);
            Dim d = s.dim(ax);
            if (d.isFixed() && d.value() != 1) {
                throw new GraphException(n + ": cannot squeeze axis " + a + " of '" + x.name() + "' " + s);
            }
            drop[ax] = true;
        }
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < s.rank(); i++) {
            if (!drop[i]) {
                out.add(s.dim(i));
            }
        }
        return List.of(OpSchema.Out.of(x.dtype(), new Shape(out)));
    }

    private static List<OpSchema.Out> concat(Node n, int c) {
        DType t = sameType(n, 0, n.inputs().size());
        long axisAttr = n.longAttr("axis", Long.MIN_VALUE);
        if (axisAttr == Long.MIN_VALUE) {
            throw new GraphException(n + ": Concat needs an 'axis' attribute");
        }
        Shape first = n.input(0).shape();
        if (!first.hasRank()) {
            return List.of(OpSchema.Out.of(t, Shape.UNKNOWN_RANK));
        }
        int ax = axis(n, first, axisAttr);
        List<Dim> out = new ArrayList<>(first.dims());
        long total = 0;
        boolean fixedTotal = true;
        for (Value v : n.inputs()) {
            Shape s = v.shape();
            if (!s.hasRank()) {
                return List.of(OpSchema.Out.of(t, Shape.unknown(first.rank())));
            }
            if (s.rank() != first.rank()) {
                throw new GraphException("rank mismatch in " + n + ": '" + v.name() + "' " + s + " vs '" + n.input(0).name() + "' " + first);
            }
            for (int i = 0; i < s.rank(); i++) {
                if (i == ax) {
                    continue;
                }
                Dim a = out.get(i);
                Dim b = s.dim(i);
                if (a.isFixed() && b.isFixed() && a.value() != b.value()) {
                    throw new GraphException("shape mismatch in " + n + ": '" + v.name() + "' " + s + " vs '"
                            + n.input(0).name() + "' " + first + " off the concat axis " + ax);
                }
                if (!a.isFixed() && b.isFixed()) {
                    out.set(i, b);
                }
            }
            Dim d = s.dim(ax);
            fixedTotal &= d.isFixed();
            total += d.isFixed() ? d.value() : 0;
        }
        out.set(ax, fixedTotal ? Dim.of(total) : Dim.UNKNOWN);
        return List.of(OpSchema.Out.of(t, new Shape(out)));
    }

    private static List<OpSchema.Out> split(Node n, int c) {
        Value x = n.input(0);
        Shape s = x.shape();
        long[] sizes = n.input(1) == null ? null : constantLongs(n.input(1));
        List<OpSchema.Out> outs = new ArrayList<>();
        if (!s.hasRank()) {
            for (int i = 0; i < c; i++) {
                outs.add(OpSchema.Out.of(x.dtype(), Shape.UNKNOWN_RANK));
            }
            return outs;
        }
        int ax = axis(n, s, n.longAttr("axis", 0));
        Dim d = s.dim(ax);
        if (sizes != null) {
            if (sizes.length != c) {
                throw new GraphException(n + ": " + sizes.length + " split sizes for " + c + " outputs");
            }
            long sum = Arrays.stream(sizes).sum();
            if (d.isFixed() && sum != d.value()) {
                throw new GraphException("shape mismatch in " + n + ": split sizes " + Arrays.toString(sizes)
                        + " sum to " + sum + " but axis " + ax + " of '" + x.name() + "' is " + d);
            }
        } else if (d.isFixed() && d.value() % c != 0) {
            throw new GraphException(n + ": axis " + ax + " of '" + x.name() + "' (" + d + ") does not split evenly into " + c);
        }
        for (int i = 0; i < c; i++) {
            List<Dim> dims = new ArrayList<>(s.dims());
            dims.set(ax, sizes != null ? Dim.of(sizes[i]) : d.isFixed() ? Dim.of(d.value() / c) : Dim.UNKNOWN);
            outs.add(OpSchema.Out.of(x.dtype(), new Shape(dims)));
        }
        return outs;
    }

    private static List<OpSchema.Out> slice(Node n, int c) {
        Value x = n.input(0);
        Shape s = x.shape();
        long[] starts = constantLongs(n.input(1));
        long[] ends = constantLongs(n.input(2));
        long[] axes = n.input(3) == null ? null : constantLongs(n.input(3));
        long[] steps = n.input(4) == null ? null : constantLongs(n.input(4));
        if (!s.hasRank()) {
            return List.of(OpSchema.Out.of(x.dtype(), Shape.UNKNOWN_RANK));
        }
        List<Dim> out = new ArrayList<>(s.dims());
        boolean known = starts != null && ends != null && (n.input(3) == null || axes != null)
                && (n.input(4) == null || steps != null);
        if (!known) {
            if (axes != null) {
                for (long a : axes) {
                    out.set(axis(n, s, a), Dim.UNKNOWN);
                }
                return List.of(OpSchema.Out.of(x.dtype(), new Shape(out)));
            }
            return List.of(OpSchema.Out.of(x.dtype(), Shape.unknown(s.rank())));
        }
        for (int i = 0; i < starts.length; i++) {
            int ax = axes == null ? i : axis(n, s, axes[i]);
            long step = steps == null ? 1 : steps[i];
            Dim d = s.dim(ax);
            if (!d.isFixed() || step != 1) {
                out.set(ax, Dim.UNKNOWN);
                continue;
            }
            long dim = d.value();
            long b = clamp(starts[i] < 0 ? starts[i] + dim : starts[i], dim);
            long e = clamp(ends[i] < 0 ? ends[i] + dim : ends[i], dim);
            out.set(ax, Dim.of(Math.max(0, e - b)));
        }
        return List.of(OpSchema.Out.of(x.dtype(), new Shape(out)));
    }

    private static long clamp(long v, long dim) {
        return Math.max(0, Math.min(v, dim));
    }

    private static List<OpSchema.Out> gather(Node n, int c) {
        Value data = n.input(0);
        Value idx = n.input(1);
        if (idx.dtype() != DType.INT64 && idx.dtype() != DType.INT32) {
            throw new GraphException(n + ": indices '" + idx.name() + "' must be INT64 or INT32, not " + idx.dtype());
        }
        Shape s = data.shape();
        if (!s.hasRank() || !idx.shape().hasRank()) {
            return List.of(OpSchema.Out.of(data.dtype(), Shape.UNKNOWN_RANK));
        }
        int ax = axis(n, s, n.longAttr("axis", 0));
        List<Dim> out = new ArrayList<>(s.dims().subList(0, ax));
        out.addAll(idx.shape().dims());
        out.addAll(s.dims().subList(ax + 1, s.rank()));
        return List.of(OpSchema.Out.of(data.dtype(), new Shape(out)));
    }

    private static List<OpSchema.Out> expand(Node n, int c) {
        Value x = n.input(0);
        long[] target = constantLongs(n.input(1));
        if (target == null) {
            Shape ts = n.input(1).shape();
            if (ts.isFullyFixed() && x.shape().hasRank()) {
                return List.of(OpSchema.Out.of(x.dtype(), Shape.unknown((int) Math.max(ts.elementCount(), x.rank()))));
            }
            return List.of(OpSchema.Out.of(x.dtype(), Shape.UNKNOWN_RANK));
        }
        return List.of(OpSchema.Out.of(x.dtype(), broadcast(n, x.shape(), Shape.fixed(target))));
    }

    private static List<OpSchema.Out> shapeOp(Node n, int c) {
        Shape s = n.input(0).shape();
        if (!s.hasRank()) {
            return List.of(OpSchema.Out.of(DType.INT64, Shape.unknown(1)));
        }
        int start = (int) n.longAttr("start", 0);
        int end = (int) n.longAttr("end", s.rank());
        start = Math.max(0, start < 0 ? start + s.rank() : start);
        end = Math.min(s.rank(), end < 0 ? end + s.rank() : end);
        List<Dim> part = s.dims().subList(start, Math.max(start, end));
        if (new Shape(part).isFullyFixed()) {
            return List.of(OpSchema.Out.constant(TensorData.longs(new long[] {part.size()}, new Shape(part).fixedDims())));
        }
        return List.of(OpSchema.Out.of(DType.INT64, Shape.fixed(part.size())));
    }

    private static Shape shapeFromTensor(Node n, Value shapeTensor) {
        long[] dims = constantLongs(shapeTensor);
        if (dims != null) {
            return Shape.fixed(dims);
        }
        Shape ts = shapeTensor.shape();
        return ts.isFullyFixed() ? Shape.unknown((int) ts.elementCount()) : Shape.UNKNOWN_RANK;
    }

    /**
     * ONNX LayerNormalization (opset 17): X, Scale and B share the type T; the Mean and InvStdDev
     * outputs have the type {@code stash_type} names (U, default FLOAT), the type the statistics are
     * computed in.
     */
    private static List<OpSchema.Out> layerNorm(Node n, int c) {
        Value x = n.input(0);
        floating(n, 0);
        sameType(n, 0, n.input(2) == null ? 2 : 3);
        DType stash = DType.fromOnnx((int) n.longAttr("stash_type", DType.FLOAT.onnxCode));
        Shape s = x.shape();
        int ax = s.hasRank() ? axis(n, s, n.longAttr("axis", -1)) : -1;
        for (int i = 1; i < n.inputs().size(); i++) {
            Value p = n.input(i);
            if (p == null || !s.hasRank() || !p.shape().hasRank()) {
                continue;
            }
            List<Dim> normalized = s.dims().subList(ax, s.rank());
            if (p.rank() != normalized.size()) {
                throw new GraphException("shape mismatch in " + n + ": '" + p.name() + "' " + p.shape()
                        + " does not match the normalized dims " + normalized + " of '" + x.name() + "'");
            }
            for (int j = 0; j < normalized.size(); j++) {
                Dim a = normalized.get(j);
                Dim b = p.shape().dim(j);
                if (a.isFixed() && b.isFixed() && a.value() != b.value()) {
                    throw new GraphException("shape mismatch in " + n + ": '" + p.name() + "' " + p.shape()
                            + " does not match the normalized dims " + normalized + " of '" + x.name() + "'");
                }
            }
        }
        List<OpSchema.Out> outs = new ArrayList<>();
        outs.add(OpSchema.Out.of(x.dtype(), s));
        if (c > 1) {
            List<Dim> stat = new ArrayList<>();
            if (s.hasRank()) {
                for (int i = 0; i < s.rank(); i++) {
                    stat.add(i < ax ? s.dim(i) : Dim.of(1));
                }
            }
            Shape statShape = s.hasRank() ? new Shape(stat) : Shape.UNKNOWN_RANK;
            outs.add(OpSchema.Out.of(stash, statShape));
            if (c > 2) {
                outs.add(OpSchema.Out.of(stash, statShape));
            }
        }
        return outs;
    }
}
