package dev.smoldpo.autodiff;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.GraphException;
import dev.smoldpo.onnx.OpKey;
import dev.smoldpo.onnx.OpSchemas;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The vector-Jacobian rule of every differentiable op, written with standard ONNX ops so that the
 * gradient graphs run in any ORT session (and in float64 where ORT's CPU kernels allow it).
 * Formulas follow the usual calculus; see each rule's comment.
 *
 * <p>Longer than the project's ~400 lines on purpose: it is one table, a rule per op in the order of
 * {@link dev.smoldpo.onnx.OpSchemas}, read by looking a rule up; splitting it would scatter the table.
 */
public final class VjpRules {
    private static final Map<String, Vjp> RULES = new HashMap<>();

    private VjpRules() {}

    public static Vjp get(String qualifiedOp) {
        return RULES.get(qualifiedOp);
    }

    public static boolean has(String qualifiedOp) {
        return RULES.containsKey(qualifiedOp);
    }

    private static void rule(String op, Vjp vjp) {
        RULES.put(op, vjp);
    }

    static {
        // ---- elementwise, broadcasting ----
        rule("Add", c -> binary(c, c.grad(0), c.grad(0)));
        rule("Sub", c -> binary(c, c.grad(0), c.wants(1) ? c.neg(c.grad(0)) : null));
        rule("Mul", c -> binary(c, c.wants(0) ? c.mul(c.grad(0), c.input(1)) : null,
                c.wants(1) ? c.mul(c.grad(0), c.input(0)) : null));
        // y = a / b: da = g / b, db = -g * y / b, with y divided again from a (gated, so it runs in the backward
        // pass and is not merged back into the forward division) rather than read from the forward pass: a is
        // usually kept anyway (or, widened from half precision, cast again from its narrower input, see
        // Recomputation), while y would be one more tensor kept (each RMSNorm's normalised x, 65 MB per pair in
        // bf16 at SmolVLM-256M shapes); the division repeats the forward one on the same values
        rule("Div", c -> binary(c, c.wants(0) ? c.div(c.grad(0), c.input(1)) : null,
                c.wants(1) ? c.neg(c.div(c.mul(c.grad(0), c.div(c.gatedInput(0), c.input(1))), c.input(1))) : null));
        // y = a ^ b: da = g * b * a^(b-1), db = g * y * ln(a)
        rule("Pow", c -> {
            Value a = c.input(0);
            Value b = c.input(1);
            Value da = null;
            Value db = null;
            if (c.wants(0)) {
                Value bMinus1 = c.sub(b, c.graph().scalar(b.dtype(), 1));
                da = c.mul(c.grad(0), c.mul(b, c.graph().node("Pow").in(a, bMinus1).out()));
            }
            if (c.wants(1)) {
                db = c.mul(c.grad(0), c.mul(c.output(0), c.graph().unary("Log", a)));
            }
            return binary(c, da, db);
        });
        rule("Sum", c -> {
            List<Value> grads = c.noGrads();
            for (int i = 0; i < grads.size(); i++) {
                if (c.wants(i)) {
                    grads.set(i, c.reduceToShapeOf(c.grad(0), c.input(i)));
                }
            }
            return grads;
        });
        rule("Where", c -> {
            List<Value> grads = c.noGrads();
            Value zero = c.scalarLike(c.grad(0), 0);
            if (c.wants(1)) {
                grads.set(1, c.reduceToShapeOf(c.graph().where(c.input(0), c.grad(0), zero), c.input(1)));
            }
            if (c.wants(2)) {
                grads.set(2, c.reduceToShapeOf(c.graph().where(c.input(0), zero, c.grad(0)), c.input(2)));
            }
            return grads;
        });

        // ---- elementwise, unary ----
        rule("Identity", c -> List.of(c.grad(0)));
        rule("Neg", c -> List.of(c.neg(c.grad(0))));
        // y = sqrt(x): dx = g / (2 y)
        rule("Sqrt", c -> List.of(c.div(c.mul(c.grad(0), c.scalarLike(c.grad(0), 0.5)), c.output(0))));
        // y = 1/x: dx = -g y^2
        rule("Reciprocal", c -> List.of(c.neg(c.mul(c.grad(0), c.mul(c.output(0), c.output(0))))));
        rule("Exp", c -> List.of(c.mul(c.grad(0), c.output(0))));
        rule("Log", c -> List.of(c.div(c.grad(0), c.input(0))));
        // y = tanh(x): dx = g (1 - y^2)
        rule("Tanh", c -> List.of(c.mul(c.grad(0), c.sub(c.scalarLike(c.grad(0), 1), c.mul(c.output(0), c.output(0))))));
        // y = sigmoid(x): dx = g y (1 - y)
        rule("Sigmoid", c -> List.of(c.mul(c.grad(0), c.mul(c.output(0), c.sub(c.scalarLike(c.grad(0), 1), c.output(0))))));
        // y = log(1 + e^x): dx = g sigmoid(x)
        rule("Softplus", c -> List.of(c.mul(c.grad(0), c.graph().unary("Sigmoid", c.input(0)))));
        rule("Relu", c -> List.of(c.graph().where(c.graph().node("Greater").in(c.input(0), c.scalarLike(c.input(0), 0)).out(),
                c.grad(0), c.scalarLike(c.grad(0), 0))));
        rule("Sin", c -> List.of(c.mul(c.grad(0), c.graph().unary("Cos", c.input(0)))));
        rule("Cos", c -> List.of(c.neg(c.mul(c.grad(0), c.graph().unary("Sin", c.input(0))))));
        rule("Cast", c -> List.of(c.input(0).dtype() == c.grad(0).dtype() ? c.grad(0) : c.graph().cast(c.grad(0), c.input(0).dtype())));
        rule(OpKey.of(OpKey.MS_DOMAIN, "FastGelu"), VjpRules::fastGelu);
        rule(OpKey.of(OpKey.MS_DOMAIN, "Gelu"), VjpRules::gelu);

        // ---- normalisations ----
        // y = softmax(x): dx = y (g - sum(g y))
        rule("Softmax", c -> {
            long axis = c.node().longAttr("axis", -1);
            Value gy = c.mul(c.grad(0), c.output(0));
            return List.of(c.mul(c.output(0), c.sub(c.grad(0), c.graph().reduceSum(gy, true, axis))));
        });
        // y = log_softmax(x): dx = g - exp(y) sum(g)
        rule("LogSoftmax", c -> {
            long axis = c.node().longAttr("axis", -1);
            Value sumG = c.graph().reduceSum(c.grad(0), true, axis);
            return List.of(c.sub(c.grad(0), c.mul(c.graph().unary("Exp", c.output(0)), sumG)));
        });
        rule("LayerNormalization", VjpRules::layerNorm);
        rule("Dropout", VjpRules::dropout);

        // ---- linear algebra and reductions ----
        rule("MatMul", VjpRules::matMul);
        rule("ReduceSum", c -> {
            long[] axes = c.input(1) == null ? null : OpSchemas.constantLongs(c.input(1));
            if (c.input(1) != null && axes == null) {
                throw new GraphException(c.node() + ": the gradient of ReduceSum needs constant axes");
            }
            return listWithNulls(c, expandReduced(c, c.grad(0), axes, c.node().longAttr("keepdims", 1) == 1));
        });
        rule("ReduceMean", c -> {
            long[] axes = c.node().longsAttr("axes");
            Value expanded = expandReduced(c, c.grad(0), axes, c.node().longAttr("keepdims", 1) == 1);
            return List.of(c.div(expanded, elementRatio(c, c.input(0), c.output(0), axes)));
        });

        // ---- shapes and indexing ----
        rule("Reshape", c -> listWithNulls(c, c.reshapeLike(c.grad(0), c.input(0))));
        rule("Unsqueeze", c -> listWithNulls(c, c.reshapeLike(c.grad(0), c.input(0))));
        rule("Squeeze", c -> listWithNulls(c, c.reshapeLike(c.grad(0), c.input(0))));
        rule("Expand", c -> listWithNulls(c, c.reduceToShapeOf(c.grad(0), c.input(0))));
        rule("Transpose", c -> {
            long[] perm = c.node().longsAttr("perm");
            if (perm == null) {
                return List.of(c.graph().transpose(c.grad(0), reversed(c.input(0).rank())));
            }
            long[] inverse = new long[perm.length];
            for (int i = 0; i < perm.length; i++) {
                inverse[(int) perm[i]] = i;
            }
            return List.of(c.graph().transpose(c.grad(0), inverse));
        });
        rule("Concat", VjpRules::concat);
        rule("Split", VjpRules::split);
        rule("Slice", VjpRules::slice);
        rule("Gather", VjpRules::gather);
        rule("GatherElements", c -> {
            DType type = c.grad(0).dtype();
            DType sumType = VjpContext.accumulationType(type);
            Value zeros = c.zerosLike(c.input(0), sumType);
            Value update = type == sumType ? c.grad(0) : c.graph().cast(c.grad(0), sumType);
            Value dx = c.graph().node("ScatterElements").in(zeros, c.input(1), update)
                    .attr("axis", c.node().longAttr("axis", 0)).attr("reduction", "add").out();
            return listWithNulls(c, type == sumType ? dx : c.graph().cast(dx, type));
        });
    }

    // ---- helpers ----

    private static List<Value> binary(VjpContext c, Value ga, Value gb) {
        List<Value> grads = c.noGrads();
        if (c.wants(0) && ga != null) {
            grads.set(0, c.reduceToShapeOf(ga, c.input(0)));
        }
        if (c.wants(1) && gb != null) {
            grads.set(1, c.reduceToShapeOf(gb, c.input(1)));
        }
        return grads;
    }

    /** The first input's gradient, nulls for the rest (shape tensors, axes, indices). */
    private static List<Value> listWithNulls(VjpContext c, Value first) {
        List<Value> grads = c.noGrads();
        grads.set(0, first);
        return grads;
    }

    private static long[] reversed(int rank) {
        long[] p = new long[rank];
        for (int i = 0; i < rank; i++) {
            p[i] = rank - 1 - i;
        }
        return p;
    }

    /** Broadcasts a reduction's gradient back over the reduced axes of the reduction's input. */
    private static Value expandReduced(VjpContext c, Value g, long[] axes, boolean keepDims) {
        Value x = c.input(0);
        Value kept = g;
        if (!keepDims && axes != null && axes.length > 0) {
            long[] normalized = new long[axes.length];
            for (int i = 0; i < axes.length; i++) {
                normalized[i] = axes[i] < 0 ? axes[i] + x.rank() : axes[i];
            }
            kept = c.graph().unsqueeze(g, normalized);
        }
        return c.expandLike(kept, x);
    }

    /** |x| / |y| as a scalar of x's type: how many inputs each reduced output averaged. */
    private static Value elementRatio(VjpContext c, Value x, Value y, long[] axes) {
        if (x.shape().isFullyFixed() && y.shape().isFullyFixed()) {
            return c.scalarLike(x, (double) x.shape().elementCount() / y.shape().elementCount());
        }
        if (axes != null && axes.length > 0 && x.shape().hasRank()) {
            long count = 1;
            for (long a : axes) {
                var d = x.shape().dim((int) (a < 0 ? a + x.rank() : a));
                count = d.isFixed() && count > 0 ? count * d.value() : -1;
            }
            if (count > 0) {
                return c.scalarLike(x, count); // the reduced dims are known even if others are not
            }
        }
        Graph g = c.graph();
        Value ratio = g.div(g.node("Size").in(x).out(), g.node("Size").in(y).out());
        return g.cast(ratio, x.dtype());
    }

    /** Y = A B over the last two axes, batch axes broadcast: dA = G B^T, dB = A^T G, each summed back. */
    private static List<Value> matMul(VjpContext c) {
        Value a = c.input(0);
        Value b = c.input(1);
        Value g = c.grad(0);
        List<Value> grads = c.noGrads();
        if (c.wants(0)) {
            grads.set(0, c.reduceToShapeOf(timesTransposed(c, g, b), a));
        }
        if (c.wants(1)) {
            grads.set(1, c.reduceToShapeOf(c.graph().matMul(swapLast(c, a), g), b));
        }
        return grads;
    }

    /**
     * G B^T. A frozen weight B (an initializer) is read through FusedMatMul's transB: a Transpose of it
     * would be constant-folded by ONNX Runtime into a transposed copy of the weight, which the training
     * session then holds beside the original (at SmolVLM-256M shapes, 0.9 GB more in fp32).
     */
    private static Value timesTransposed(VjpContext c, Value g, Value b) {
        if (b.kind() == Value.Kind.INITIALIZER && b.rank() == 2) {
            return c.graph().msNode("FusedMatMul").in(g, b).attr("transB", 1L).out();
        }
        return c.graph().matMul(g, swapLast(c, b));
    }

    private static Value swapLast(VjpContext c, Value v) {
        int r = v.rank();
        long[] perm = new long[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[r - 1] = r - 2;
        perm[r - 2] = r - 1;
        return c.graph().transpose(v, perm);
    }

    /**
     * Exact gelu(x) = x Φ(x) = 0.5 x (1 + erf(x / √2)) (com.microsoft Gelu, torch's approximate="none");
     * d/dx = Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π).
     */
    private static List<Value> gelu(VjpContext c) {
        Graph g = c.graph();
        Value x = c.input(0);
        Value cdf = g.mul(c.scalarLike(x, 0.5),
                g.add(c.scalarLike(x, 1), g.unary("Erf", g.mul(x, c.scalarLike(x, 1 / Math.sqrt(2))))));
        Value pdf = g.mul(c.scalarLike(x, 1 / Math.sqrt(2 * Math.PI)),
                g.unary("Exp", g.mul(g.mul(x, x), c.scalarLike(x, -0.5))));
        return List.of(g.mul(c.grad(0), g.add(cdf, g.mul(x, pdf))));
    }

    /**
     * gelu(x) = 0.5 x (1 + tanh(u)), u = k (x + 0.044715 x^3), k = sqrt(2/pi);
     * d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2).
     */
    private static List<Value> fastGelu(VjpContext c) {
        Graph g = c.graph();
        Value x = c.input(1) == null ? c.input(0) : g.add(c.input(0), c.input(1));
        double k = Math.sqrt(2 / Math.PI);
        Value x2 = g.mul(x, x);
        Value inner = g.add(c.scalarLike(x, 1), g.mul(c.scalarLike(x, 0.044715), x2));
        Value t = g.unary("Tanh", g.mul(c.scalarLike(x, k), g.mul(x, inner)));
        Value onePlusT = g.add(c.scalarLike(x, 1), t);
        Value oneMinusT2 = g.sub(c.scalarLike(x, 1), g.mul(t, t));
        Value du = g.mul(c.scalarLike(x, k), g.add(c.scalarLike(x, 1), g.mul(c.scalarLike(x, 3 * 0.044715), x2)));
        Value derivative = g.add(g.mul(c.scalarLike(x, 0.5), onePlusT), g.mul(g.mul(c.scalarLike(x, 0.5), x), g.mul(oneMinusT2, du)));
        Value dx = g.mul(c.grad(0), derivative);
        List<Value> grads = c.noGrads();
        if (c.wants(0)) {
            grads.set(0, c.reduceToShapeOf(dx, c.input(0)));
        }
        if (c.wants(1)) {
            grads.set(1, c.reduceToShapeOf(dx, c.input(1)));
        }
        return grads;
    }

    /**
     * LayerNorm over axes [axis, rank): with x̂ = (x - mean) / sqrt(var + eps),
     * dx = inv (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)) where ĝ = g * scale; dscale = Σ g x̂; dbias = Σ g.
     */
    private static List<Value> layerNorm(VjpContext c) {
        if (c.grad(1) != null || c.grad(2) != null) {
            throw new GraphException(c.node() + ": gradients through LayerNormalization's Mean/InvStdDev outputs are not supported");
        }
        Graph g = c.graph();
        Value x = c.input(0);
        Value scale = c.input(1);
        int rank = x.rank();
        long axis = c.node().longAttr("axis", -1);
        axis = axis < 0 ? axis + rank : axis;
        long[] axes = new long[(int) (rank - axis)];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = axis + i;
        }
        double eps = c.node().doubleAttr("epsilon", 1e-5);
        Value mean = g.reduceMean(x, true, axes);
        Value centered = g.sub(x, mean);
        Value variance = g.reduceMean(g.mul(centered, centered), true, axes);
        Value inv = g.unary("Reciprocal", g.unary("Sqrt", g.add(variance, c.scalarLike(x, eps))));
        Value xhat = g.mul(centered, inv);
        Value gy = c.grad(0);
        List<Value> grads = c.noGrads();
        if (c.wants(0)) {
            Value gh = g.mul(gy, scale);
            Value meanGh = g.reduceMean(gh, true, axes);
            Value meanGhX = g.reduceMean(g.mul(gh, xhat), true, axes);
            grads.set(0, g.mul(inv, g.sub(g.sub(gh, meanGh), g.mul(xhat, meanGhX))));
        }
        if (c.wants(1)) {
            grads.set(1, c.reduceToShapeOf(g.mul(gy, xhat), scale));
        }
        if (c.wants(2)) {
            grads.set(2, c.reduceToShapeOf(gy, c.input(2)));
        }
        return grads;
    }

    /**
     * Inverted dropout: dx = g * mask / (1 - ratio) when training, g otherwise. The scale is computed in
     * the ratio's type (which may be FLOAT for half-precision data) with Div, not Reciprocal (ORT's CUDA
     * provider has no bfloat16 Reciprocal), and cast to the gradient's type.
     */
    private static List<Value> dropout(VjpContext c) {
        if (c.node().outputs().size() < 2) {
            throw new GraphException(c.node() + ": differentiable Dropout must output its mask (use Graph.dropout)");
        }
        Graph g = c.graph();
        Value x = c.input(0);
        if (c.input(2) == null) {
            return listWithNulls(c, c.grad(0)); // inference mode: identity
        }
        Value ratio = c.input(1) != null ? c.input(1) : c.scalarLike(x, 0.5);
        Value one = c.scalarLike(ratio, 1);
        Value scale = g.div(one, g.sub(one, ratio));
        Value effectiveScale = g.where(c.input(2), scale, one);
        if (effectiveScale.dtype() != x.dtype()) {
            effectiveScale = g.cast(effectiveScale, x.dtype());
        }
        Value dx = g.where(c.output(1), g.mul(c.grad(0), effectiveScale), c.scalarLike(x, 0));
        return listWithNulls(c, dx);
    }

    /** Each input's gradient is its slice of the output gradient along the concat axis. */
    private static List<Value> concat(VjpContext c) {
        Graph g = c.graph();
        int rank = c.output(0).rank();
        long axis = c.node().longAttr("axis", 0);
        axis = axis < 0 ? axis + rank : axis;
        List<Value> grads = c.noGrads();
        Value start = g.longs(0);
        for (int i = 0; i < grads.size(); i++) {
            Value in = c.input(i);
            Value size = dimOf(c, in, axis);
            Value end = g.add(start, size);
            if (c.wants(i)) {
                grads.set(i, c.reshapeLike(g.node("Slice").in(c.grad(0), start, end, g.longs(axis)).out(), in));
            }
            start = end;
        }
        return grads;
    }

    /** [dim] of {@code v} along {@code axis} as a 1-D INT64 tensor (a constant when known). */
    private static Value dimOf(VjpContext c, Value v, long axis) {
        var d = v.shape().dim((int) axis);
        if (d.isFixed()) {
            return c.graph().longs(d.value());
        }
        return c.graph().node("Shape").in(v).attr("start", axis).attr("end", axis + 1).out();
    }

    /** The gradient of a split is the concatenation of the parts' gradients (zeros where none flows). */
    private static List<Value> split(VjpContext c) {
        Graph g = c.graph();
        long axis = c.node().longAttr("axis", 0);
        List<Value> parts = new ArrayList<>();
        for (int i = 0; i < c.node().outputs().size(); i++) {
            parts.add(c.grad(i) != null ? c.grad(i) : c.zerosLike(c.output(i)));
        }
        return listWithNulls(c, c.reshapeLike(g.concat(axis, parts.toArray(Value[]::new)), c.input(0)));
    }

    /**
     * Slice with unit steps: the gradient is the output gradient padded with zeros back to the
     * input's extent. Starts must be constants; dims may be dynamic.
     */
    private static List<Value> slice(VjpContext c) {
        Graph g = c.graph();
        Value x = c.input(0);
        long[] starts = OpSchemas.constantLongs(c.input(1));
        long[] axes = c.input(3) == null ? null : OpSchemas.constantLongs(c.input(3));
        long[] steps = c.input(4) == null ? null : OpSchemas.constantLongs(c.input(4));
        if (starts == null || (c.input(3) != null && axes == null) || (c.input(4) != null && steps == null)) {
            throw new GraphException(c.node() + ": the gradient of Slice needs constant starts, axes and steps");
        }
        int rank = x.rank();
        Value[] before = new Value[rank];
        Value[] after = new Value[rank];
        for (int i = 0; i < starts.length; i++) {
            if (steps != null && steps[i] != 1) {
                throw new GraphException(c.node() + ": the gradient of Slice supports step 1 only, got " + steps[i]);
            }
            int ax = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + rank : axes[i]);
            Value dim = dimOf(c, x, ax);
            Value begin;
            if (starts[i] >= 0) {
                // clamp to the dim, as Slice does
                begin = x.shape().dim(ax).isFixed() ? g.longs(Math.min(starts[i], x.shape().dim(ax).value()))
                        : g.node("Min").in(g.longs(starts[i]), dim).out();
            } else {
                begin = g.node("Max").in(g.add(dim, g.longs(starts[i])), g.longs(0)).out();
            }
            before[ax] = begin;
            after[ax] = g.sub(g.sub(dim, begin), dimOf(c, c.grad(0), ax));
        }
        Value[] pads = new Value[2 * rank];
        for (int i = 0; i < rank; i++) {
            pads[i] = before[i] != null ? before[i] : g.longs(0);
            pads[rank + i] = after[i] != null ? after[i] : g.longs(0);
        }
        Value padded = g.node("Pad").in(c.grad(0), g.concat(0, pads)).out();
        return listWithNulls(c, c.reshapeLike(padded, x));
    }

    /** Gather's gradient scatters (adds) each output slice back to the row it was read from. */
    private static List<Value> gather(VjpContext c) {
        Graph g = c.graph();
        Value data = c.input(0);
        Value idx = c.input(1);
        int rank = data.rank();
        long axis = c.node().longAttr("axis", 0);
        axis = axis < 0 ? axis + rank : axis;
        int idxRank = idx.rank();
        // Normalise negative indices: ScatterND wants them in [0, dim).
        Value indices = idx.dtype() == DType.INT64 ? idx : g.cast(idx, DType.INT64);
        Value dim = dimOf(c, data, axis);
        indices = g.where(g.node("Less").in(indices, g.longs(0)).out(), g.add(indices, dim), indices);
        // Move the gathered axis to the front of data, and the index block to the front of the gradient.
        long[] dataPerm = moveToFront(rank, (int) axis, 1);
        long[] gradPerm = moveToFront(rank - 1 + idxRank, (int) axis, idxRank);
        Value dataFront = axis == 0 ? data : g.transpose(data, dataPerm);
        Value gradFront = axis == 0 ? c.grad(0) : g.transpose(c.grad(0), gradPerm);
        // summed in FLOAT for half-precision gradients (see VjpContext.accumulationType)
        DType type = c.grad(0).dtype();
        DType sumType = VjpContext.accumulationType(type);
        Value zeros = c.zerosLike(dataFront, sumType);
        Value updates = type == sumType ? gradFront : g.cast(gradFront, sumType);
        Value scattered = g.node("ScatterND").in(zeros, g.unsqueeze(indices, idxRank), updates)
                .attr("reduction", "add").out();
        Value dx = axis == 0 ? scattered : g.transpose(scattered, inverse(dataPerm));
        return listWithNulls(c, type == sumType ? dx : g.cast(dx, type));
    }

    /** A permutation of {@code rank} axes moving the block [start, start+len) to the front. */
    private static long[] moveToFront(int rank, int start, int len) {
        long[] perm = new long[rank];
        int k = 0;
        for (int i = start; i < start + len; i++) {
            perm[k++] = i;
        }
        for (int i = 0; i < rank; i++) {
            if (i < start || i >= start + len) {
                perm[k++] = i;
            }
        }
        return perm;
    }

    private static long[] inverse(long[] perm) {
        long[] inv = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inv[(int) perm[i]] = i;
        }
        return inv;
    }
}
