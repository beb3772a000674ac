package dev.smoldpo.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Fluent construction of one node: inputs, attributes, optional output and node names. */
public final class NodeBuilder {
    private final Graph graph;
    private final String domain;
    private final String opType;
    private final List<Value> inputs = new ArrayList<>();
    private final Map<String, Object> attributes = new LinkedHashMap<>();
    private List<String> outputNames;
    private String nodeName;
    private Shape knownShape;

    NodeBuilder(Graph graph, String domain, String opType) {
        this.graph = graph;
        this.domain = domain;
        this.opType = opType;
    }

    /** Appends inputs; a null stands for an omitted optional input. */
    public NodeBuilder in(Value... values) {
        inputs.addAll(Arrays.asList(values));
        return this;
    }

    public NodeBuilder in(List<Value> values) {
        inputs.addAll(values);
        return this;
    }

    public NodeBuilder attr(String key, long value) {
        attributes.put(key, value);
        return this;
    }

    public NodeBuilder attr(String key, double value) {
        attributes.put(key, value);
        return this;
    }

    public NodeBuilder attr(String key, String value) {
        attributes.put(key, value);
        return this;
    }

    public NodeBuilder attr(String key, long[] value) {
        attributes.put(key, value.clone());
        return this;
    }

    public NodeBuilder attr(String key, TensorData value) {
        attributes.put(key, value);
        return this;
    }

    public NodeBuilder attrs(Map<String, Object> all) {
        attributes.putAll(all);
        return this;
    }

    public NodeBuilder named(String name) {
        this.nodeName = name;
        return this;
    }

    /** Names the outputs (null entries get fresh names). */
    public NodeBuilder outputNames(String... names) {
        this.outputNames = Arrays.asList(names);
        return this;
    }

    /**
     * What the caller knows about the first output's shape beyond inference, e.g. that a Reshape to
     * {@code Shape(x)} has x's shape. Unknown inferred dims take the known ones; a contradiction
     * is a {@link GraphException}.
     */
    public NodeBuilder knownShape(Shape shape) {
        this.knownShape = shape;
        return this;
    }

    /** Adds the node and returns its single (first) output. */
    public Value out() {
        return outs(1).get(0);
    }

    /** Adds the node with {@code count} outputs. */
    public List<Value> outs(int count) {
        return graph.addNode(domain, opType, inputs, attributes, outputNames, count, nodeName, knownShape);
    }
}
