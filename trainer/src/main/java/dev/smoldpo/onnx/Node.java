package dev.smoldpo.onnx;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * One operator application. Inputs may contain null for an omitted optional input. Attribute values
 * are Long, Double, String, long[], double[], String[] or TensorData.
 */
public final class Node {
    private final String name;
    private final String opType;
    private final String domain;
    private final List<Value> inputs;
    private List<Value> outputs;
    private final Map<String, Object> attributes;
    /** The recompute scope the node was built in (see {@link Graph#recomputeScope}), or null. */
    private final String recomputeScope;

    Node(String name, String opType, String domain, List<Value> inputs, Map<String, Object> attributes) {
        this(name, opType, domain, inputs, attributes, null);
    }

    Node(String name, String opType, String domain, List<Value> inputs, Map<String, Object> attributes,
         String recomputeScope) {
        this.name = name;
        this.recomputeScope = recomputeScope;
        this.opType = opType;
        this.domain = domain;
        this.inputs = Collections.unmodifiableList(new java.util.ArrayList<>(inputs));
        this.attributes = Collections.unmodifiableMap(new java.util.LinkedHashMap<>(attributes));
    }

    void setOutputs(List<Value> outputs) {
        this.outputs = List.copyOf(outputs);
    }

    /**
     * The recompute scope this forward node belongs to, or null: the gradient pass computes the scope's
     * inner values again instead of keeping them alive from the forward pass ({@code autodiff.Recomputation}).
     */
    public String recomputeScope() {
        return recomputeScope;
    }

    public String name() {
        return name;
    }

    public String opType() {
        return opType;
    }

    /** "" for the default ONNX domain, "com.microsoft" for ORT's contrib ops. */
    public String domain() {
        return domain;
    }

    public List<Value> inputs() {
        return inputs;
    }

    public Value input(int i) {
        return i < inputs.size() ? inputs.get(i) : null;
    }

    public List<Value> outputs() {
        return outputs;
    }

    public Value output(int i) {
        return outputs.get(i);
    }

    public Map<String, Object> attributes() {
        return attributes;
    }

    public long longAttr(String key, long fallback) {
        Object v = attributes.get(key);
        return v == null ? fallback : ((Number) v).longValue();
    }

    public double doubleAttr(String key, double fallback) {
        Object v = attributes.get(key);
        return v == null ? fallback : ((Number) v).doubleValue();
    }

    public String stringAttr(String key, String fallback) {
        Object v = attributes.get(key);
        return v == null ? fallback : (String) v;
    }

    public long[] longsAttr(String key) {
        return (long[]) attributes.get(key);
    }

    /** "Domain::OpType", the key of the op registry. */
    public String qualifiedOp() {
        return OpKey.of(domain, opType);
    }

    @Override
    public String toString() {
        return opType + " node '" + name + "'";
    }
}
