package dev.smoldpo.autodiff;

import dev.smoldpo.onnx.Dim;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.Value;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The forward values a training graph's backward pass reads: computed before the loss, they must stay in
 * memory from the moment they are made until the gradient nodes that read them have run, so their sum is
 * the part of a train step's peak memory that grows with the batch. Graph inputs and initializers are not
 * counted (the caller and the session hold them anyway). A value the backward pass reads only through
 * Shape or Size is counted too: ONNX Runtime's order (a depth-first walk back from the graph's outputs,
 * graph_viewer.cc) runs such a node just before the gradient node that needs it, so the tensor stays alive
 * until then; {@link Bytes#shapeOnly} says how much of the total that is. The forward pass is every node
 * the loss depends on; every other node belongs to the backward pass (recomputed copies included, as they
 * are gated on a gradient).
 */
public final class BackwardStash {
    /** Ops that read only their input's shape. */
    private static final Set<String> SHAPE_READERS = Set.of("Shape", "Size");
    private final List<Value> values;
    private final Set<Value> shapeOnly;

    private BackwardStash(List<Value> values, Set<Value> shapeOnly) {
        this.values = values;
        this.shapeOnly = shapeOnly;
    }

    /** The stash of {@code graph}, whose forward pass ends in {@code loss}. */
    public static BackwardStash of(Graph graph, Value loss) {
        Set<Value> lossReads = Autodiff.backwardReach(graph.nodes(), loss);
        Set<Node> forward = new HashSet<>();
        for (Value v : lossReads) {
            if (v.producer() != null) {
                forward.add(v.producer());
            }
        }
        Set<Value> read = new LinkedHashSet<>();
        Set<Value> readInFull = new HashSet<>();
        for (Node n : graph.nodes()) {
            if (forward.contains(n)) {
                continue;
            }
            for (Value in : n.inputs()) {
                if (in != null && in.producer() != null && forward.contains(in.producer())) {
                    read.add(in);
                    if (!SHAPE_READERS.contains(n.opType())) {
                        readInFull.add(in);
                    }
                }
            }
        }
        Set<Value> shapeOnly = new HashSet<>(read);
        shapeOnly.removeAll(readInFull);
        return new BackwardStash(List.copyOf(read), Set.copyOf(shapeOnly));
    }

    /** Every value kept, in graph order. */
    public List<Value> values() {
        return values;
    }

    /** The values the backward pass reads only through Shape or Size. */
    public Set<Value> shapeOnly() {
        return shapeOnly;
    }

    /** Bytes of the stash with the graph's symbolic dims at {@code dims}; values of other unknown dims are only counted. */
    public Bytes bytes(Map<String, Long> dims) {
        long total = 0;
        long forShape = 0;
        int unsized = 0;
        Map<String, Long> byProducer = new LinkedHashMap<>();
        for (Value v : values) {
            long elements = elements(v, dims);
            if (elements < 0) {
                unsized++;
                continue;
            }
            long b = elements * v.dtype().byteSize;
            total += b;
            forShape += shapeOnly.contains(v) ? b : 0;
            byProducer.merge(v.producer().opType() + " " + v.dtype(), b, Long::sum);
        }
        List<Map.Entry<String, Long>> sorted = new ArrayList<>(byProducer.entrySet());
        sorted.sort(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()));
        LinkedHashMap<String, Long> ordered = new LinkedHashMap<>();
        sorted.forEach(e -> ordered.put(e.getKey(), e.getValue()));
        return new Bytes(total, forShape, unsized, ordered);
    }

    /**
     * The stash's size: {@code total} bytes over the values of known size, {@code shapeOnly} bytes of them
     * held only for a Shape or Size, {@code unsized} values whose shape has a dim no binding gives, and the
     * bytes per producing op and element type, largest first.
     */
    public record Bytes(long total, long shapeOnly, int unsized, Map<String, Long> byProducer) {}

    private static long elements(Value v, Map<String, Long> dims) {
        if (!v.shape().hasRank()) {
            return -1;
        }
        long n = 1;
        for (Dim d : v.shape().dims()) {
            Long size = d.isFixed() ? Long.valueOf(d.value()) : d.isSymbolic() ? dims.get(d.symbol()) : null;
            if (size == null) {
                return -1;
            }
            n *= size;
        }
        return n;
    }
}
