package dev.smoldpo.autodiff;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Dim;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.GraphException;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** What a {@link Vjp} rule sees: the forward node, its output gradients, and graph-building helpers. */
public final class VjpContext {
    private final Graph graph;
    private final Node node;
    private final List<Value> outputGrads;
    private final boolean[] wanted;
    private final Recomputation recomputation;

    VjpContext(Graph graph, Node node, List<Value> outputGrads, boolean[] wanted, Recomputation recomputation) {
        this.graph = graph;
        this.node = node;
        this.outputGrads = outputGrads;
        this.wanted = wanted;
        this.recomputation = recomputation;
    }

    public Graph graph() {
        return graph;
    }

    public Node node() {
        return node;
    }

    /** Forward input {@code i} (recomputed when it lies inside a recompute scope). */
    public Value input(int i) {
        return recomputation.forBackward(node.input(i), this::anyGrad);
    }

    /**
     * Forward input {@code i} as {@link #input}, passed through a gate on this node's gradient when it is a
     * forward value: a node the rule builds from it then runs in the backward pass, and ORT's
     * common-subexpression elimination cannot merge it with the forward node it repeats.
     */
    public Value gatedInput(int i) {
        return recomputation.gate(input(i), this::anyGrad);
    }

    /** Forward output {@code i} (recomputed when it lies inside a recompute scope). */
    public Value output(int i) {
        return recomputation.forBackward(node.output(i), this::anyGrad);
    }

    private Value anyGrad() {
        for (Value g : outputGrads) {
            if (g != null) {
                return g;
            }
        }
        throw new IllegalStateException(node + ": a gradient rule ran without an output gradient");
    }

    /** The gradient flowing into output {@code i}, or null when that output does not reach the loss. */
    public Value grad(int i) {
        return i < outputGrads.size() ? outputGrads.get(i) : null;
    }

    /** Whether the engine needs the gradient of input {@code i}. */
    public boolean wants(int i) {
        return i < wanted.length && wanted[i];
    }

    /** A list of nulls with one slot per node input, to fill with gradients. */
    public List<Value> noGrads() {
        return new ArrayList<>(Arrays.asList(new Value[node.inputs().size()]));
    }

    public Value scalarLike(Value like, double v) {
        return graph.scalar(like.dtype(), v);
    }

    /** Zeros with the (run-time) shape and type of {@code like}. */
    public Value zerosLike(Value like) {
        return zerosLike(like, like.dtype());
    }

    /** Zeros with the (run-time) shape of {@code like} and element type {@code dtype}. */
    public Value zerosLike(Value like, DType dtype) {
        return graph.node("ConstantOfShape").in(shapeOf(like))
                .attr("value", TensorData.scalar(dtype, 0).withDims(1)).knownShape(like.shape()).out();
    }

    /**
     * The type scatter-adds accumulate in for gradients of {@code type}: FLOAT for the half-precision types.
     * Many updates may land on one row (a token gathered at several positions), and each bfloat16 add
     * would round; ORT's CPU provider has no float16 ScatterND/ScatterElements add at all.
     */
    static DType accumulationType(DType type) {
        return type == DType.BFLOAT16 || type == DType.FLOAT16 ? DType.FLOAT : type;
    }

    /** The shape of {@code v} as an INT64 tensor: a constant when fully known, else a Shape node. */
    public Value shapeOf(Value v) {
        return v.shape().isFullyFixed() ? graph.longs(v.shape().fixedDims()) : graph.shapeOf(v);
    }

    /** Reshapes {@code g} to {@code like}'s shape (a no-op node is skipped when both shapes are provably equal). */
    public Value reshapeLike(Value g, Value like) {
        if (sameShape(g, like)) {
            return g;
        }
        return graph.node("Reshape").in(g, reshapeTarget(g, like)).knownShape(like.shape()).out();
    }

    /*
     * Why the two targets below avoid Shape(like) where they can: like is usually a forward activation, and
     * ONNX Runtime runs a Shape node just before the gradient node that needs it (its order is a depth-first
     * walk back from the graph's outputs, graph_viewer.cc), so the whole tensor stayed alive until the backward
     * pass only for its shape: 0.24 GB per pair in bf16 at SmolVLM-256M shapes (cli.BenchStashCommand).
     */

    /**
     * Reshape's target for {@code like}'s shape, from {@code like}'s static dims when they allow: fixed dims as
     * they are, a symbolic dim that {@code g} has at the same index as 0 (Reshape copies it from g), and one
     * other dim as -1 (inferred: g has like's element count); else {@code Shape(like)}.
     */
    private Value reshapeTarget(Value g, Value like) {
        if (!like.shape().hasRank() || !g.shape().hasRank()) {
            return shapeOf(like);
        }
        long[] dims = new long[like.rank()];
        boolean inferred = false;
        for (int i = 0; i < dims.length; i++) {
            Dim d = like.shape().dim(i);
            if (d.isFixed() && d.value() > 0) {
                dims[i] = d.value();
            } else if (d.isSymbolic() && i < g.rank() && d.sameAs(g.shape().dim(i))) {
                dims[i] = 0;
            } else if (!d.isFixed() && !inferred) {
                dims[i] = -1;
                inferred = true;
            } else {
                return shapeOf(like);
            }
        }
        return graph.longs(dims);
    }

    /**
     * Expand's target for {@code like}'s shape, from its static dims when they allow: fixed dims as they are,
     * and 1 (broadcasting keeps g's) for a symbolic dim that {@code g} has at the same place counted from the
     * right; else {@code Shape(like)}.
     */
    private Value expandTarget(Value g, Value like) {
        if (!like.shape().hasRank() || !g.shape().hasRank() || g.rank() > like.rank()) {
            return shapeOf(like);
        }
        int lead = like.rank() - g.rank();
        long[] dims = new long[like.rank()];
        for (int i = 0; i < dims.length; i++) {
            Dim d = like.shape().dim(i);
            if (d.isFixed()) {
                dims[i] = d.value();
            } else if (d.isSymbolic() && i >= lead && d.sameAs(g.shape().dim(i - lead))) {
                dims[i] = 1;
            } else {
                return shapeOf(like);
            }
        }
        return graph.longs(dims);
    }

    static boolean sameShape(Value a, Value b) {
        if (!a.shape().hasRank() || !b.shape().hasRank() || a.rank() != b.rank()) {
            return false;
        }
        for (int i = 0; i < a.rank(); i++) {
            if (!a.shape().dim(i).sameAs(b.shape().dim(i))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Sums a gradient of the broadcast output shape back to the shape of input {@code x}. Axes are
     * chosen at build time when the shapes allow it, otherwise at run time from the two shapes
     * (so dynamic dimensions, such as a batch of 1 broadcast against a batch of N, stay correct).
     */
    public Value reduceToShapeOf(Value g, Value x) {
        if (sameShape(g, x)) {
            return g;
        }
        if (!g.shape().hasRank() || !x.shape().hasRank()) {
            return dynamicReduce(g, x);
        }
        int lead = g.rank() - x.rank();
        if (lead < 0) {
            throw new GraphException(node + ": gradient of rank " + g.rank() + " cannot reduce to '" + x.name()
                    + "' of rank " + x.rank());
        }
        List<Long> axes = new ArrayList<>();
        for (int i = 0; i < lead; i++) {
            axes.add((long) i);
        }
        for (int i = 0; i < x.rank(); i++) {
            Dim dx = x.shape().dim(i);
            Dim dg = g.shape().dim(lead + i);
            if (dx.sameAs(dg)) {
                continue;
            }
            if (dx.isFixed() && dx.value() == 1) {
                axes.add((long) (lead + i)); // summing a size-1 axis is harmless if it was not broadcast
            } else {
                return dynamicReduce(g, x);
            }
        }
        Value reduced = axes.isEmpty() ? g : graph.reduceSum(g, true, axes.stream().mapToLong(Long::longValue).toArray());
        return lead == 0 && axes.isEmpty() ? g : reshapeLike(reduced, x);
    }

    private Value dynamicReduce(Value g, Value x) {
        if (!g.shape().hasRank() || !x.shape().hasRank()) {
            throw new GraphException(node + ": cannot reduce a broadcast gradient to '" + x.name()
                    + "' when ranks are unknown");
        }
        int lead = g.rank() - x.rank();
        Value xShape = graph.shapeOf(x);
        if (lead > 0) {
            long[] ones = new long[lead];
            Arrays.fill(ones, 1);
            xShape = graph.concat(0, graph.longs(ones), xShape);
        }
        Value differs = graph.unary("Not", graph.node("Equal").in(xShape, graph.shapeOf(g)).out());
        Value axes = graph.reshape(graph.node("NonZero").in(differs).out(), -1);
        Value reduced = graph.node("ReduceSum").in(g, axes).attr("keepdims", 1L).attr("noop_with_empty_axes", 1L).out();
        return graph.node("Reshape").in(reduced, graph.shapeOf(x)).knownShape(x.shape()).out();
    }

    /** Broadcasts {@code g} to the shape of {@code like}. */
    public Value expandLike(Value g, Value like) {
        return graph.node("Expand").in(g, expandTarget(g, like)).knownShape(like.shape()).out();
    }

    public Value add(Value a, Value b) {
        return graph.add(a, b);
    }

    public Value sub(Value a, Value b) {
        return graph.sub(a, b);
    }

    public Value mul(Value a, Value b) {
        return graph.mul(a, b);
    }

    public Value div(Value a, Value b) {
        return graph.div(a, b);
    }

    public Value neg(Value a) {
        return graph.neg(a);
    }
}
