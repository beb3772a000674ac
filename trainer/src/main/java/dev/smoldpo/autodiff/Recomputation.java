package dev.smoldpo.autodiff;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.NodeBuilder;
import dev.smoldpo.onnx.OpKey;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Gradient checkpointing for {@link Autodiff}: a forward value made inside a recompute scope
 * ({@link Graph#recomputeScope}) and used only inside it is not read from the forward pass by the gradient
 * rules; they get a copy computed again from the values that enter the scope. The forward value can then be
 * freed as soon as the forward pass is done with it, and only the scope's inputs stay alive until the
 * backward pass, as with transformers' gradient checkpointing of a layer (modeling_utils.py,
 * {@code gradient_checkpointing_enable}) or a memory-efficient attention kernel that recomputes its
 * probabilities.
 *
 * <p>Ordering: ONNX Runtime orders the nodes by a reverse depth-first walk from the graph's leaves
 * (graph_viewer.cc), in which a copy computed only from forward values may land in the forward pass and then
 * stay alive just as long as the value it repeats. Each scope's copies therefore start from its inputs passed through a gate that
 * depends on the gradient arriving at the scope ({@code Where(open, x, x)}, {@code And(x, open)} for
 * booleans, with {@code open = Size(gradient) > -1}): bit-identical values that cannot exist before the
 * backward pass reaches the scope. The gate also keeps ORT's common-subexpression elimination from merging
 * a copy back into the forward node it repeats.
 *
 * <p>Nodes that draw random numbers (Dropout) are never copied: their outputs are kept, like scope inputs.
 *
 * <p>Casts, in every graph: a gradient rule reading the output of a forward Cast between float types gets a
 * copy cast again from the Cast's input (gated likewise), when that is cheaper to keep: a widening cast (the
 * half-precision input is half the bytes of its float32 output), or a narrowing cast of a Softmax or
 * LogSoftmax output, which the softmax's own gradient reads anyway (bf16 attention's probabilities, cast for
 * the product with the values). A cast is exact and deterministic, so the copy equals the forward value bit
 * for bit.
 */
final class Recomputation {
    private static final Set<String> KEPT_OPS = Set.of("Dropout", "RandomNormal", "RandomNormalLike", "RandomUniform",
            "RandomUniformLike", "Multinomial", "Bernoulli", OpKey.of(OpKey.MS_DOMAIN, "BitmaskDropout"));

    /** Ops whose gradient reads their output, which therefore stays alive for the backward pass anyway. */
    private static final Set<String> OUTPUT_READ_BY_GRADIENT = Set.of("Softmax", "LogSoftmax");

    private final Graph graph;
    private final Set<Node> forwardNodes;
    /** Forward values made inside a scope and read only inside it: the ones gradient rules get copies of. */
    private final Set<Value> recomputed = new HashSet<>();
    /** Outputs of forward casts that gradient rules read as copies cast again (see the class comment). */
    private final Set<Value> recast = new HashSet<>();
    private final Map<String, Scope> scopes = new HashMap<>();

    /** One scope's gate and the copies made so far (shared by every gradient rule of the scope). */
    private static final class Scope {
        /** Gate inputs through a Reshape to a gated shape (no copy, any type) instead of Where (see {@link #gated}). */
        final boolean byShape;
        Value open;
        final Map<Value, Value> copies = new HashMap<>();

        Scope(boolean byShape) {
            this.byShape = byShape;
        }
    }

    /** @param forward the graph's nodes before any gradient node was added */
    Recomputation(Graph graph, List<Node> forward) {
        this.graph = graph;
        this.forwardNodes = new HashSet<>(forward);
        Map<Value, Set<String>> readers = new HashMap<>();
        for (Node n : forward) {
            for (Value in : n.inputs()) {
                if (in != null) {
                    readers.computeIfAbsent(in, k -> new HashSet<>()).add(String.valueOf(n.recomputeScope()));
                }
            }
        }
        Set<Value> outputs = new HashSet<>(graph.outputs());
        for (Node n : forward) {
            String scope = n.recomputeScope();
            if (scope == null || KEPT_OPS.contains(n.qualifiedOp())) {
                continue;
            }
            for (Value out : n.outputs()) {
                Set<String> by = readers.getOrDefault(out, Set.of());
                if (!outputs.contains(out) && by.stream().allMatch(scope::equals)) {
                    recomputed.add(out);
                }
            }
        }
        for (Node n : forward) {
            if (n.opType().equals("Cast") && n.domain().isEmpty() && cheaperToCastAgain(n) && !recomputed.contains(n.output(0))
                    && !outputs.contains(n.output(0))) {
                recast.add(n.output(0));
            }
        }
    }

    private boolean cheaperToCastAgain(Node cast) {
        Value in = cast.input(0);
        Value out = cast.output(0);
        if (!in.dtype().isFloating() || !out.dtype().isFloating() || in.kind() == Value.Kind.INITIALIZER
                || recomputed.contains(in)) {
            return false;
        }
        return in.dtype().byteSize < out.dtype().byteSize
                || (in.producer() != null && OUTPUT_READ_BY_GRADIENT.contains(in.producer().qualifiedOp()));
    }

    /**
     * {@code v} as a gradient rule should read it: the forward value itself, or, inside a recompute scope,
     * its copy, gated on {@code gradient} (the gradient the rule differentiates, asked for only when the scope's
     * first copy is made).
     */
    Value forBackward(Value v, Supplier<Value> gradient) {
        if (v == null || !(recomputed.contains(v) || recast.contains(v))) {
            return v;
        }
        boolean cast = recast.contains(v);
        return copy(v, opened(cast ? "cast " + v.producer().name() : v.producer().recomputeScope(), cast, gradient));
    }

    /**
     * {@code v} behind a gate on {@code gradient} (a Reshape to its own gated shape) when it is a forward value;
     * anything else (an input, an initializer, a copy already gated) as it is.
     */
    Value gate(Value v, Supplier<Value> gradient) {
        if (v == null || v.producer() == null || !forwardNodes.contains(v.producer())) {
            return v;
        }
        return gated(v, opened("gate " + v.name(), true, gradient));
    }

    /** The scope {@code key}, its gate {@code open = Size(gradient) > -1} made at its first use. */
    private Scope opened(String key, boolean byShape, Supplier<Value> gradient) {
        Scope scope = scopes.computeIfAbsent(key, k -> new Scope(byShape));
        if (scope.open == null) {
            Value size = graph.node("Size").in(gradient.get()).out();
            scope.open = graph.node("Greater").in(size, graph.longs(-1)).out();
        }
        return scope;
    }

    private Value copy(Value v, Scope scope) {
        Value done = scope.copies.get(v);
        if (done != null) {
            return done;
        }
        Node node = v.producer();
        List<Value> inputs = new ArrayList<>();
        for (Value in : node.inputs()) {
            inputs.add(in == null ? null : recomputed.contains(in) ? copy(in, scope) : gated(in, scope));
        }
        NodeBuilder b = node.domain().isEmpty() ? graph.node(node.opType()) : graph.msNode(node.opType());
        List<Value> outs = b.in(inputs).attrs(node.attributes()).named(graph.freshName(node.name() + "_recomputed"))
                .knownShape(node.output(0).shape()).outs(node.outputs().size());
        for (int i = 0; i < outs.size(); i++) {
            scope.copies.put(node.output(i), outs.get(i));
        }
        return scope.copies.get(v);
    }

    /**
     * A scope input as the copies read it: behind the gate, except initializers (weights and constants). A
     * cast's copy is gated by reshaping its input to its own shape passed through the gate: no copy of the
     * tensor, and any element type, so half-precision graphs keep running on the CPU provider, which has no
     * bfloat16 Where.
     */
    private Value gated(Value in, Scope scope) {
        if (in.kind() == Value.Kind.INITIALIZER) {
            return in;
        }
        Value done = scope.copies.get(in);
        if (done != null) {
            return done;
        }
        Value gated;
        if (scope.byShape) {
            Value shape = graph.shapeOf(in);
            gated = graph.node("Reshape").in(in, graph.where(scope.open, shape, shape)).knownShape(in.shape()).out();
        } else {
            gated = in.dtype() == DType.BOOL ? graph.node("And").in(in, scope.open).out() : graph.where(scope.open, in, in);
        }
        scope.copies.put(in, gated);
        return gated;
    }
}
