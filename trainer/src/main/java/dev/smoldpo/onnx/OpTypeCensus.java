package dev.smoldpo.onnx;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The element types each op of a graph is applied to, as type signatures (op, input types, output
 * types), for checking a graph against an execution provider's kernel table (ORT's
 * docs/OperatorKernels.md lists the types each provider registers per op and opset). The written
 * ONNX files do not carry the types of intermediate values; the {@link Graph} does.
 */
public final class OpTypeCensus {
    /** One op applied to these types; null entries are omitted optional inputs, sequences are marked "seq". */
    public record Signature(String op, List<String> inputs, List<String> outputs) {
        @Override
        public String toString() {
            return op + "(" + String.join(", ", inputs) + ") -> " + String.join(", ", outputs);
        }

        /** Whether any input or output is a tensor of {@code type}. */
        public boolean uses(DType type) {
            return inputs.contains(type.name()) || outputs.contains(type.name());
        }
    }

    private OpTypeCensus() {}

    /** The distinct signatures of {@code graph}'s nodes, sorted by op and types. */
    public static SortedSet<Signature> of(Graph graph) {
        SortedSet<Signature> out = new TreeSet<>(Comparator.comparing(Signature::toString));
        for (Node n : graph.nodes()) {
            out.add(new Signature(n.qualifiedOp(), types(n.inputs()), types(n.outputs())));
        }
        return out;
    }

    private static List<String> types(List<Value> values) {
        List<String> out = new ArrayList<>();
        for (Value v : values) {
            out.add(v == null ? "-" : v.isSequence() ? "seq(" + v.dtype().name() + ")" : v.dtype().name());
        }
        return out;
    }
}
