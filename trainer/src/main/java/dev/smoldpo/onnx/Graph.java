package dev.smoldpo.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A typed ONNX graph under construction. Every node is checked as it is added: the op must be
 * known ({@link OpSchemas}), names must be unique, and shapes must agree; failures throw
 * {@link GraphException} naming the node and tensors, long before ONNX Runtime sees the graph.
 *
 * <p>It is a little over 400 lines because it also carries the one-line shorthands for common ops
 * ({@code g.add}, {@code g.matMul}, ...) that every graph builder calls on it, and the pruning of dead
 * nodes, which needs its node list and name tables; both belong to building a graph.
 */
public final class Graph {
    private final String name;
    private final List<Value> inputs = new ArrayList<>();
    private final List<Value> outputs = new ArrayList<>();
    private final Map<String, Value> initializers = new LinkedHashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Value> values = new HashMap<>();
    private final Map<String, Integer> nameCounters = new HashMap<>();
    private final java.util.Set<String> nodeNames = new java.util.HashSet<>();
    private String recomputeScope;

    public Graph(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    // ---- declaring values ----

    public Value input(String name, DType dtype, Shape shape) {
        Value v = new Value(claim(name), dtype, shape, Value.Kind.INPUT, false, null, null);
        inputs.add(v);
        values.put(name, v);
        return v;
    }

    /** A {@code seq(tensor(dtype))} graph input. */
    public Value sequenceInput(String name, DType dtype) {
        Value v = new Value(claim(name), dtype, Shape.UNKNOWN_RANK, Value.Kind.INPUT, true, null, null);
        inputs.add(v);
        values.put(name, v);
        return v;
    }

    public Value initializer(String name, TensorData data) {
        Value v = new Value(claim(name), data.dtype(), data.shape(), Value.Kind.INITIALIZER, false, null, data);
        initializers.put(name, v);
        values.put(name, v);
        return v;
    }

    /**
     * An initializer whose bytes are produced when the model is written (large frozen weights);
     * its value is not known to shape inference, only its type and shape.
     */
    public Value initializer(String name, TensorSource source) {
        if (source instanceof TensorData data) {
            return initializer(name, data);
        }
        Value v = new Value(claim(name), source.dtype(), source.shape(), Value.Kind.INITIALIZER, false, null, null, source);
        initializers.put(name, v);
        values.put(name, v);
        return v;
    }

    /** An anonymous constant initializer. */
    public Value constant(TensorData data) {
        return initializer(freshName("const"), data);
    }

    public Value scalar(DType dtype, double value) {
        return constant(TensorData.scalar(dtype, value));
    }

    /** A 1-D INT64 constant, the usual form of axes and shapes. */
    public Value longs(long... values) {
        return constant(TensorData.longs(new long[] {values.length}, values));
    }

    public void output(Value v) {
        if (values.get(v.name()) != v) {
            throw new GraphException("output '" + v.name() + "' is not a value of graph '" + name + "'");
        }
        if (outputs.contains(v)) {
            throw new GraphException("duplicate graph output '" + v.name() + "'");
        }
        outputs.add(v);
    }

    // ---- adding nodes ----

    /** Starts a node of the default ONNX domain. */
    public NodeBuilder node(String opType) {
        return new NodeBuilder(this, "", opType);
    }

    /** Starts a node of ORT's com.microsoft domain. */
    public NodeBuilder msNode(String opType) {
        return new NodeBuilder(this, OpKey.MS_DOMAIN, opType);
    }

    /**
     * Builds {@code body} with every node it adds tagged with the recompute scope {@code scope}: the
     * gradient pass recomputes the values made and used only inside the scope from the values that enter
     * it, so those values need not stay alive until the backward pass (gradient checkpointing). A scope
     * opened inside another joins the outer one; a null scope changes nothing.
     */
    public <T> T recomputeScope(String scope, java.util.function.Supplier<T> body) {
        if (scope == null || recomputeScope != null) {
            return body.get();
        }
        recomputeScope = scope;
        try {
            return body.get();
        } finally {
            recomputeScope = null;
        }
    }

    List<Value> addNode(String domain, String opType, List<Value> nodeInputs, Map<String, Object> attrs,
                        List<String> outputNames, int outputCount, String nodeName, Shape knownShape) {
        String qualified = OpKey.of(domain, opType);
        String resolvedNodeName = nodeName != null ? nodeName : freshName(opType.toLowerCase());
        if (!nodeNames.add(resolvedNodeName)) {
            throw new GraphException("duplicate node name '" + resolvedNodeName + "'");
        }
        for (Value in : nodeInputs) {
            if (in != null && values.get(in.name()) != in) {
                throw new GraphException(opType + " node '" + resolvedNodeName + "': input '" + in.name()
                        + "' is not a value of graph '" + name + "'");
            }
        }
        OpSchema schema = OpSchemas.get(qualified);
        if (schema == null) {
            throw new GraphException("unknown op '" + qualified + "' (node '" + resolvedNodeName
                    + "'); known ops: " + OpSchemas.knownOps());
        }
        Node node = new Node(resolvedNodeName, opType, domain, nodeInputs, attrs, recomputeScope);
        List<OpSchema.Out> types = schema.infer(node, outputCount);
        List<Value> outs = new ArrayList<>();
        for (int i = 0; i < types.size(); i++) {
            String outName = outputNames != null && i < outputNames.size() && outputNames.get(i) != null
                    ? outputNames.get(i) : freshName(resolvedNodeName + "_out" + (i == 0 ? "" : i));
            OpSchema.Out t = types.get(i);
            Shape shape = i == 0 && knownShape != null ? refine(node, t.shape(), knownShape) : t.shape();
            Value v = new Value(claim(outName), t.dtype(), shape, Value.Kind.NODE_OUTPUT, t.sequence(), node, t.constant());
            values.put(outName, v);
            outs.add(v);
        }
        node.setOutputs(outs);
        nodes.add(node);
        return outs;
    }

    private static Shape refine(Node node, Shape inferred, Shape known) {
        if (!inferred.hasRank()) {
            return known;
        }
        if (!known.hasRank()) {
            return inferred;
        }
        if (inferred.rank() != known.rank()) {
            throw new GraphException(node + ": inferred shape " + inferred + " contradicts the known shape " + known);
        }
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < inferred.rank(); i++) {
            Dim a = inferred.dim(i);
            Dim b = known.dim(i);
            if (a.isFixed() && b.isFixed() && a.value() != b.value()) {
                throw new GraphException(node + ": inferred shape " + inferred + " contradicts the known shape " + known);
            }
            dims.add(a.isFixed() || (a.isSymbolic() && !b.isFixed()) ? a : b);
        }
        return new Shape(dims);
    }

    private String claim(String valueName) {
        if (valueName == null || valueName.isEmpty()) {
            throw new GraphException("empty tensor name in graph '" + name + "'");
        }
        if (values.containsKey(valueName)) {
            throw new GraphException("duplicate tensor name '" + valueName + "' in graph '" + name + "'");
        }
        return valueName;
    }

    /** A name not used yet, derived from {@code prefix}. */
    public String freshName(String prefix) {
        int n = nameCounters.merge(prefix, 1, Integer::sum);
        String candidate = n == 1 && !values.containsKey(prefix) ? prefix : prefix + "_" + n;
        while (values.containsKey(candidate) || nodeNames.contains(candidate)) {
            n = nameCounters.merge(prefix, 1, Integer::sum);
            candidate = prefix + "_" + n;
        }
        return candidate;
    }

    // ---- pruning ----

    /** What the graph holds at one moment, for {@link #pruneSince}. */
    public record Mark(int nodes, int initializers) {}

    public Mark mark() {
        return new Mark(nodes.size(), initializers.size());
    }

    /**
     * Removes the nodes added since {@code mark} that neither {@code roots} nor a graph output depend on, and
     * the initializers added since that no node reads any more. ONNX Runtime runs every node of a graph, dead
     * ones included, and keeps their inputs alive until they have run.
     *
     * @return the number of nodes removed
     */
    public int pruneSince(Mark mark, java.util.Collection<Value> roots) {
        java.util.Set<Node> recent = new java.util.HashSet<>(nodes.subList(mark.nodes(), nodes.size()));
        java.util.Set<Node> live = new java.util.HashSet<>();
        java.util.Deque<Value> todo = new java.util.ArrayDeque<>(roots);
        todo.addAll(outputs);
        while (!todo.isEmpty()) {
            Node p = todo.pop().producer();
            if (p != null && recent.contains(p) && live.add(p)) {
                p.inputs().stream().filter(java.util.Objects::nonNull).forEach(todo::push);
            }
        }
        int removed = 0;
        for (java.util.Iterator<Node> it = nodes.listIterator(mark.nodes()); it.hasNext(); ) {
            Node n = it.next();
            if (!live.contains(n)) {
                it.remove();
                nodeNames.remove(n.name());
                n.outputs().forEach(v -> values.remove(v.name()));
                removed++;
            }
        }
        java.util.Set<Value> read = new java.util.HashSet<>(outputs);
        nodes.forEach(n -> n.inputs().stream().filter(java.util.Objects::nonNull).forEach(read::add));
        List<String> added = new ArrayList<>(initializers.keySet()).subList(mark.initializers(), initializers.size());
        for (String name : List.copyOf(added)) {
            if (!read.contains(initializers.get(name))) {
                initializers.remove(name);
                values.remove(name);
            }
        }
        return removed;
    }

    // ---- reading ----

    public List<Value> inputs() {
        return Collections.unmodifiableList(inputs);
    }

    public List<Value> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    public List<Value> initializers() {
        return List.copyOf(initializers.values());
    }

    public List<Node> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    public Value value(String valueName) {
        return values.get(valueName);
    }

    public boolean hasValue(String valueName) {
        return values.containsKey(valueName);
    }

    // ---- shorthand for common ops ----

    public Value add(Value a, Value b) {
        return node("Add").in(a, b).out();
    }

    public Value sub(Value a, Value b) {
        return node("Sub").in(a, b).out();
    }

    public Value mul(Value a, Value b) {
        return node("Mul").in(a, b).out();
    }

    public Value div(Value a, Value b) {
        return node("Div").in(a, b).out();
    }

    public Value matMul(Value a, Value b) {
        return node("MatMul").in(a, b).out();
    }

    public Value neg(Value x) {
        return node("Neg").in(x).out();
    }

    public Value unary(String opType, Value x) {
        return node(opType).in(x).out();
    }

    public Value cast(Value x, DType to) {
        return node("Cast").in(x).attr("to", (long) to.onnxCode).out();
    }

    public Value reduceSum(Value x, boolean keepDims, long... axes) {
        NodeBuilder b = node("ReduceSum").attr("keepdims", keepDims ? 1L : 0L);
        return axes.length == 0 ? b.in(x).out() : b.in(x, longs(axes)).out();
    }

    public Value reduceMean(Value x, boolean keepDims, long... axes) {
        NodeBuilder b = node("ReduceMean").in(x).attr("keepdims", keepDims ? 1L : 0L);
        if (axes.length > 0) {
            b.attr("axes", axes);
        }
        return b.out();
    }

    public Value reshape(Value x, long... shape) {
        return node("Reshape").in(x, longs(shape)).out();
    }

    public Value reshape(Value x, Value shape) {
        return node("Reshape").in(x, shape).out();
    }

    public Value transpose(Value x, long... perm) {
        return node("Transpose").in(x).attr("perm", perm).out();
    }

    public Value unsqueeze(Value x, long... axes) {
        return node("Unsqueeze").in(x, longs(axes)).out();
    }

    public Value squeeze(Value x, long... axes) {
        return node("Squeeze").in(x, longs(axes)).out();
    }

    public Value shapeOf(Value x) {
        return node("Shape").in(x).out();
    }

    public Value concat(long axis, Value... parts) {
        return node("Concat").in(parts).attr("axis", axis).out();
    }

    public Value where(Value condition, Value x, Value y) {
        return node("Where").in(condition, x, y).out();
    }

    public Value softmax(Value x, long axis) {
        return node("Softmax").in(x).attr("axis", axis).out();
    }

    public Value logSoftmax(Value x, long axis) {
        return node("LogSoftmax").in(x).attr("axis", axis).out();
    }

    public Value gather(Value data, Value indices, long axis) {
        return node("Gather").in(data, indices).attr("axis", axis).out();
    }

    public Value expand(Value x, Value shape) {
        return node("Expand").in(x, shape).out();
    }

    /**
     * RMSNorm, decomposed into primitives so autodiff needs no extra rule:
     * {@code x / sqrt(mean(x^2, -1) + eps) * weight}.
     */
    public Value rmsNorm(Value x, Value weight, double eps) {
        Value squared = mul(x, x);
        Value meanSquare = reduceMean(squared, true, -1);
        Value rms = unary("Sqrt", add(meanSquare, scalar(x.dtype(), eps)));
        return mul(div(x, rms), weight);
    }

    /**
     * Inverted dropout with its mask; the mask is always produced so the gradient can use it. The ratio
     * is a FLOAT constant whatever x's type (ONNX lets the ratio's type differ), so the kernel and the
     * gradient scale by the same 1 / (1 - ratio), not by a ratio rounded to bfloat16.
     */
    public List<Value> dropout(Value x, double ratio, Value trainingMode, long seed) {
        NodeBuilder b = node("Dropout").attr("seed", seed);
        b.in(x, scalar(DType.FLOAT, ratio), trainingMode);
        return b.outs(2);
    }

    @Override
    public String toString() {
        return "Graph '" + name + "' (" + nodes.size() + " nodes, " + inputs.size() + " inputs, "
                + initializers.size() + " initializers, outputs " + Arrays.toString(outputs.stream().map(Value::name).toArray()) + ")";
    }
}
