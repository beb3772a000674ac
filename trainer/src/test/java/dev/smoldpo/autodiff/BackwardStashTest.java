package dev.smoldpo.autodiff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link BackwardStash} on a two-layer graph, loss = sum(tanh(x W1) W2): the gradients of W1 and W2 read
 * the tanh output a (dW2 = aᵀg and tanh' = 1 - a²) and nothing else the forward pass made; with the layer in
 * a recompute scope they read copies instead, and a is not kept.
 */
class BackwardStashTest {
    private static final long HIDDEN = 6;

    private record Built(Graph graph, Value loss, Value h, Value a) {}

    private static Built build(String scope) {
        Graph g = new Graph("stash");
        Value x = g.input("x", DType.FLOAT, Shape.of("rows", 4));
        Value w1 = g.input("w1", DType.FLOAT, Shape.of(4, HIDDEN));
        Value w2 = g.input("w2", DType.FLOAT, Shape.of(HIDDEN, 1));
        Value[] inner = new Value[2];
        Value y = g.recomputeScope(scope, () -> {
            inner[0] = g.matMul(x, w1);
            inner[1] = g.unary("Tanh", inner[0]);
            return g.matMul(inner[1], w2);
        });
        Value loss = g.reduceSum(y, false);
        Autodiff.gradients(g, loss, List.of(w1, w2));
        return new Built(g, loss, inner[0], inner[1]);
    }

    @Test
    void theBackwardPassKeepsTheActivationItReads() {
        Built b = build(null);
        BackwardStash stash = BackwardStash.of(b.graph(), b.loss());
        // the sum's gradient reads y's shape alone (an Expand to Shape(y)): y is held for it, and said to be
        Value y = b.loss().producer().input(0);
        assertEquals(List.of(y, b.a()), stash.values());
        assertEquals(java.util.Set.of(y), stash.shapeOnly());
        BackwardStash.Bytes bytes = stash.bytes(Map.of("rows", 10L));
        assertEquals(10 * HIDDEN * 4 + 10 * 4, bytes.total());
        assertEquals(10 * 4, bytes.shapeOnly());
        assertEquals(0, bytes.unsized());
        assertEquals(Map.of("Tanh FLOAT", 10 * HIDDEN * 4L, "MatMul FLOAT", 10 * 4L), bytes.byProducer());
        assertEquals(2, stash.bytes(Map.of()).unsized(), "without a size for 'rows' the values are only counted");
    }

    @Test
    void aRecomputedLayerKeepsNoneOfItsActivations() {
        // h and a are made and read only inside the scope: the gradient rules read copies made from the gated x
        Built b = build("layer");
        List<Value> kept = BackwardStash.of(b.graph(), b.loss()).values();
        assertFalse(kept.contains(b.a()) || kept.contains(b.h()), "kept: " + kept);
        assertEquals(0, BackwardStash.of(b.graph(), b.loss()).bytes(Map.of("rows", 10L)).byProducer()
                .getOrDefault("Tanh FLOAT", 0L));
    }
}
