package dev.smoldpo.onnx;

/**
 * A named value in a {@link Graph}: a graph input, an initializer or a node output. Values are
 * identified by name within their graph.
 */
public final class Value {
    /** Where a value comes from. */
    public enum Kind { INPUT, INITIALIZER, NODE_OUTPUT }

    private final String name;
    private final DType dtype;
    private final Shape shape;
    private final Kind kind;
    private final boolean sequence;
    private final Node producer;
    private final TensorData constant;
    private final TensorSource source;

    Value(String name, DType dtype, Shape shape, Kind kind, boolean sequence, Node producer, TensorData constant) {
        this(name, dtype, shape, kind, sequence, producer, constant, constant);
    }

    Value(String name, DType dtype, Shape shape, Kind kind, boolean sequence, Node producer, TensorData constant,
          TensorSource source) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape;
        this.kind = kind;
        this.sequence = sequence;
        this.producer = producer;
        this.constant = constant;
        this.source = source;
    }

    /** An initializer's contents (in memory or streamed at write time); null for other values. */
    public TensorSource source() {
        return kind == Kind.INITIALIZER ? source : null;
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    public Shape shape() {
        return shape;
    }

    public Kind kind() {
        return kind;
    }

    /** True for {@code seq(tensor(dtype))} values (the optimizer graph's inputs). */
    public boolean isSequence() {
        return sequence;
    }

    /** The node that computes this value, or null for inputs and initializers. */
    public Node producer() {
        return producer;
    }

    /** The value when it is a known constant (an initializer or a Constant node's output), else null. */
    public TensorData constant() {
        return constant;
    }

    public int rank() {
        return shape.rank();
    }

    @Override
    public String toString() {
        return name + ":" + dtype + shape;
    }
}
