package dev.smoldpo.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Graph#pruneSince}: what was added since the mark and feeds no root goes, older nodes and values stay. */
class GraphPruneTest {
    @Test
    void deadNodesAndTheirConstantsAddedSinceTheMarkGo() {
        Graph g = new Graph("prune");
        Value x = g.input("x", DType.FLOAT, Shape.of(2));
        Value oldUnused = g.unary("Neg", x);                // before the mark, read by nobody: kept
        Value oldConstant = g.constant(TensorData.floats(new long[] {2}, 1f, 2f)); // before the mark: kept
        Graph.Mark mark = g.mark();
        Value live = g.add(x, g.constant(TensorData.floats(new long[] {2}, 3f, 4f)));
        Value deadConstant = g.constant(TensorData.floats(new long[] {2}, 5f, 6f));
        Value dead = g.unary("Tanh", g.mul(x, deadConstant));
        assertEquals(2, g.pruneSince(mark, List.of(live)));
        assertEquals(List.of("Neg", "Add"), g.nodes().stream().map(Node::opType).toList());
        assertFalse(g.hasValue(dead.name()) || g.hasValue(deadConstant.name()), "the dead chain and its constant are gone");
        assertTrue(g.hasValue(oldUnused.name()) && g.hasValue(oldConstant.name()) && g.hasValue(live.name()));
        assertEquals(2, g.initializers().size(), "the old constant and the live one");
    }

    @Test
    void aGraphOutputIsARoot() {
        Graph g = new Graph("outputs");
        Value x = g.input("x", DType.FLOAT, Shape.of(2));
        Graph.Mark mark = g.mark();
        g.output(g.unary("Exp", x));
        assertEquals(0, g.pruneSince(mark, List.of()));
        assertEquals(1, g.nodes().size());
    }
}
