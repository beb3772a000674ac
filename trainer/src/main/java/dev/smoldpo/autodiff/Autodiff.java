package dev.smoldpo.autodiff;

import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.GraphException;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode automatic differentiation over a {@link Graph}: appends to the graph the nodes that
 * compute d loss / d t for each requested tensor t. Only nodes on a path from a requested tensor to
 * the loss get gradient nodes; frozen branches get none. Gradients reaching a tensor along several
 * paths are summed. Forward values inside recompute scopes are recomputed for the gradient rules
 * ({@link Recomputation}).
 */
public final class Autodiff {
    private Autodiff() {}

    /**
     * @param loss a scalar (shape [] or [1]) floating-point value of {@code graph}
     * @param wrt the tensors to differentiate with respect to (inputs or initializers)
     * @return the gradient of each tensor of {@code wrt}, by name, in the order given
     * @throws GraphException naming the tensor or op when a gradient cannot be built
     */
    public static Map<String, Value> gradients(Graph graph, Value loss, Collection<Value> wrt) {
        if (!loss.dtype().isFloating()) {
            throw new GraphException("loss '" + loss.name() + "' must be floating point, not " + loss.dtype());
        }
        if (!loss.shape().hasRank() || loss.shape().isFullyFixed() && loss.shape().elementCount() != 1
                || !loss.shape().isFullyFixed()) {
            throw new GraphException("loss '" + loss.name() + "' must be a scalar, but has shape " + loss.shape());
        }
        Set<Value> targets = new HashSet<>(wrt);
        for (Value t : wrt) {
            if (graph.value(t.name()) != t) {
                throw new GraphException("trainable tensor '" + t.name() + "' is not in graph '" + graph.name() + "'");
            }
            if (!t.dtype().isFloating()) {
                throw new GraphException("trainable tensor '" + t.name() + "' is " + t.dtype() + "; only floating tensors train");
            }
        }
        List<Node> nodes = List.copyOf(graph.nodes());
        Set<Value> dependsOnTarget = forwardReach(nodes, targets);
        Set<Value> reachesLoss = backwardReach(nodes, loss);
        for (Value t : wrt) {
            if (!reachesLoss.contains(t)) {
                throw new GraphException("trainable tensor '" + t.name() + "' has no path to the loss '" + loss.name() + "'");
            }
        }

        Recomputation recomputation = new Recomputation(graph, nodes);
        Graph.Mark beforeBackward = graph.mark();
        Map<Value, List<Value>> contributions = new HashMap<>();
        contributions.computeIfAbsent(loss, k -> new ArrayList<>()).add(graph.constant(
                dev.smoldpo.onnx.TensorData.scalar(loss.dtype(), 1.0).withDims(loss.shape().fixedDims())));
        for (int idx = nodes.size() - 1; idx >= 0; idx--) {
            Node node = nodes.get(idx);
            boolean onPath = false;
            for (Value out : node.outputs()) {
                onPath |= dependsOnTarget.contains(out) && reachesLoss.contains(out);
            }
            if (!onPath) {
                continue;
            }
            List<Value> outGrads = new ArrayList<>();
            boolean any = false;
            for (Value out : node.outputs()) {
                Value g = total(graph, contributions.get(out));
                outGrads.add(g);
                any |= g != null;
            }
            if (!any) {
                continue;
            }
            boolean[] wanted = new boolean[node.inputs().size()];
            for (int i = 0; i < wanted.length; i++) {
                Value in = node.input(i);
                wanted[i] = in != null && in.dtype().isFloating() && dependsOnTarget.contains(in) && reachesLoss.contains(in);
            }
            Vjp rule = VjpRules.get(node.qualifiedOp());
            if (rule == null) {
                throw new GraphException("no gradient rule for op '" + node.qualifiedOp() + "' (" + node
                        + "), which lies between a trainable tensor and the loss");
            }
            List<Value> inGrads = rule.apply(new VjpContext(graph, node, outGrads, wanted, recomputation));
            for (int i = 0; i < wanted.length; i++) {
                if (!wanted[i]) {
                    continue;
                }
                Value g = i < inGrads.size() ? inGrads.get(i) : null;
                if (g != null) {
                    contributions.computeIfAbsent(node.input(i), k -> new ArrayList<>()).add(g);
                }
            }
        }
        Map<String, Value> result = new LinkedHashMap<>();
        for (Value t : wrt) {
            Value g = total(graph, contributions.get(t));
            if (g == null) {
                throw new GraphException("trainable tensor '" + t.name() + "' received no gradient from the loss '"
                        + loss.name() + "' (only non-differentiable ops connect them)");
            }
            result.put(t.name(), g);
        }
        // a rule may read a value for its static shape alone, or build a part a later sum makes redundant;
        // the copies and nodes no gradient uses would still run (and hold their inputs) in ONNX Runtime
        graph.pruneSince(beforeBackward, result.values());
        return result;
    }

    private static Value total(Graph graph, List<Value> parts) {
        if (parts == null || parts.isEmpty()) {
            return null;
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        Value sum = graph.node("Sum").in(parts).out();
        parts.clear();
        parts.add(sum);
        return sum;
    }

    /** Values computed (through any op) from one of the targets, including the targets. */
    private static Set<Value> forwardReach(List<Node> nodes, Set<Value> targets) {
        Set<Value> reached = new HashSet<>(targets);
        for (Node n : nodes) {
            for (Value in : n.inputs()) {
                if (in != null && reached.contains(in)) {
                    reached.addAll(n.outputs());
                    break;
                }
            }
        }
        return reached;
    }

    /** Values the loss depends on, including the loss. */
    /** Values the loss depends on (itself included), over {@code nodes} in topological order. */
    static Set<Value> backwardReach(List<Node> nodes, Value loss) {
        Set<Value> reached = new HashSet<>();
        reached.add(loss);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            for (Value out : n.outputs()) {
                if (reached.contains(out)) {
                    for (Value in : n.inputs()) {
                        if (in != null) {
                            reached.add(in);
                        }
                    }
                    break;
                }
            }
        }
        return reached;
    }
}
