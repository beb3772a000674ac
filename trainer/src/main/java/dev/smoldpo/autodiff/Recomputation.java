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
 */
final class Recomputation {
    private static final Set<String> KEPT_OPS = Set.of("Dropout", "RandomNormal", "RandomNormalLike", "RandomUniform",
            "RandomUniformLike", "Multinomial", "Bernoulli", OpKey.of(OpKey.MS_DOMAIN, "BitmaskDropout"));

    private final Graph graph;
    /** Forward values made inside a scope and read only inside it: the ones gradient rules get copies of. */
    private final Set<Value> recomputed = new HashSet<>();
    private final Map<String, Scope> scopes = new HashMap<>();

    /** One scope's gate and the copies made so far (shared by every gradient rule of the scope). */
    private static final class Scope {
        Value open;
        final Map<Value, Value> copies = new HashMap<>();
    }

    /** @param forward the graph's nodes before any gradient node was added */
    Recomputation(Graph graph, List<Node> forward) {
        this.graph = graph;
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
    }

    /**
     * {@code v} as a gradient rule should read it: the forward value itself, or, inside a recompute scope,
     * its copy, gated on {@code gradient} (the gradient the rule differentiates, asked for only when the scope's
     * first copy is made).
     */
    Value forBackward(Value v, Supplier<Value> gradient) {
        if (v == null || !recomputed.contains(v)) {
            return v;
        }
        Scope scope = scopes.computeIfAbsent(v.producer().recomputeScope(), k -> new Scope());
        if (scope.open == null) {
            Value size = graph.node("Size").in(gradient.get()).out();
            scope.open = graph.node("Greater").in(size, graph.longs(-1)).out();
        }
        return copy(v, scope);
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

    /** A scope input as the copies read it: behind the gate, except initializers (weights and constants). */
    private Value gated(Value in, Scope scope) {
        if (in.kind() == Value.Kind.INITIALIZER) {
            return in;
        }
        Value done = scope.copies.get(in);
        if (done != null) {
            return done;
        }
        Value gated = in.dtype() == DType.BOOL ? graph.node("And").in(in, scope.open).out()
                : graph.where(scope.open, in, in);
        scope.copies.put(in, gated);
        return gated;
    }
}
