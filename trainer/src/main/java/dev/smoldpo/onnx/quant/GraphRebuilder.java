package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.GraphException;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.NodeBuilder;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A new graph built node by node from an existing one, for passes that rewrite some nodes and copy
 * the rest: values keep their names, initializers are copied when first used (so a replaced weight
 * disappears), and every node is checked again by the builder's shape inference. Names the pass
 * invents contain a '/', which the model builders never use, so they cannot collide with a name
 * copied later.
 */
final class GraphRebuilder {
    private final Graph source;
    private final Graph target;
    private final Map<Value, Value> mapped = new HashMap<>();

    GraphRebuilder(Graph source) {
        this.source = source;
        this.target = new Graph(source.name());
    }

    Graph source() {
        return source;
    }

    Graph target() {
        return target;
    }

    /** Declares {@code in} in the new graph with element type {@code dtype}. */
    Value input(Value in, DType dtype) {
        Value v = target.input(in.name(), dtype, in.shape());
        mapped.put(in, v);
        return v;
    }

    /** The new graph's value for a source value; an initializer is copied (same name and contents) on first use. */
    Value get(Value v) {
        if (v == null) {
            return null;
        }
        Value m = mapped.get(v);
        if (m == null && v.kind() == Value.Kind.INITIALIZER) {
            m = target.initializer(v.name(), v.source());
            mapped.put(v, m);
        }
        if (m == null) {
            throw new GraphException("pass over graph '" + source.name() + "': '" + v.name() + "' is used before it is built");
        }
        return m;
    }

    void map(Value from, Value to) {
        mapped.put(from, to);
    }

    /** A name for something the pass adds, derived from {@code base}. */
    String name(String base, String what) {
        return target.freshName(base + "/" + what);
    }

    /** Starts a node of {@code n}'s domain and type in the new graph. */
    NodeBuilder start(String domain, String opType) {
        return domain.isEmpty() ? target.node(opType) : target.msNode(opType);
    }

    /** Copies {@code n} with {@code inputs} (already in the new graph), keeping its name, attributes and output names. */
    List<Value> copy(Node n, List<Value> inputs) {
        List<String> names = new ArrayList<>();
        for (Value out : n.outputs()) {
            names.add(out.name());
        }
        return copy(n, inputs, names);
    }

    /** As {@link #copy(Node, List)}, naming the outputs {@code outputNames}; maps the source outputs to the new ones. */
    List<Value> copy(Node n, List<Value> inputs, List<String> outputNames) {
        List<Value> outs = start(n.domain(), n.opType()).in(inputs).attrs(n.attributes()).named(n.name())
                .outputNames(outputNames.toArray(String[]::new)).knownShape(n.output(0).shape()).outs(n.outputs().size());
        for (int i = 0; i < outs.size(); i++) {
            mapped.put(n.output(i), outs.get(i));
        }
        return outs;
    }

    /** Copies {@code n} with its inputs mapped. */
    List<Value> copy(Node n) {
        List<Value> inputs = new ArrayList<>();
        for (Value in : n.inputs()) {
            inputs.add(get(in));
        }
        return copy(n, inputs);
    }

    /** The source graph's outputs, in order, from their mapped values (which must carry the same names). */
    Graph finish() {
        for (Value out : source.outputs()) {
            Value v = get(out);
            if (!v.name().equals(out.name())) {
                throw new GraphException("pass over graph '" + source.name() + "' renamed output '" + out.name() + "' to '"
                        + v.name() + "'");
            }
            target.output(v);
        }
        return target;
    }
}
