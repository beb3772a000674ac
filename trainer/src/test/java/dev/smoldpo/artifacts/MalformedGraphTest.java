package dev.smoldpo.artifacts;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.GraphException;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed graphs fail while the artifacts are built, with a message naming the op or tensor,
 * and leave no output folder behind.
 */
class MalformedGraphTest {
    @TempDir
    Path dir;

    /** A one-parameter model whose forward pass is {@code body(graph, w)}. */
    private static ModelDefinition model(List<Parameter> params, BiFunction<Graph, Map<String, Value>, Value> body) {
        return new ModelDefinition() {
            @Override
            public List<Parameter> trainableParameters() {
                return params;
            }

            @Override
            public Forward build(Graph graph, Map<String, Value> trainable) {
                return new Forward(body.apply(graph, trainable), List.of());
            }
        };
    }

    private static Parameter w(String name, long... dims) {
        int n = 1;
        for (long d : dims) {
            n *= (int) d;
        }
        return new Parameter(name, TensorData.floats(dims, new float[n]));
    }

    private GraphException failsToBuild(ModelDefinition m) throws Exception {
        Path out = dir.resolve("out");
        GraphException e = assertThrows(GraphException.class, () -> ArtifactBuilder.build(m, AdamWConfig.DEFAULT, out, "bad", Map.of()));
        assertFalse(Files.exists(out), "no output folder after a failed build");
        try (Stream<Path> left = Files.list(dir)) {
            assertTrue(left.findAny().isEmpty(), "no temporary folder left behind");
        }
        return e;
    }

    @Test
    void unknownOp() throws Exception {
        GraphException e = failsToBuild(model(List.of(w("w", 3)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            return g.reduceSum(g.node("Frobnicate").named("frob1").in(g.mul(x, t.get("w"))).out(), false);
        }));
        assertTrue(e.getMessage().contains("unknown op 'Frobnicate'") && e.getMessage().contains("frob1"), e.getMessage());
    }

    @Test
    void shapeMismatch() throws Exception {
        GraphException e = failsToBuild(model(List.of(w("lora_A", 4, 2)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            return g.reduceSum(g.matMul(x, t.get("lora_A")), false);
        }));
        assertTrue(e.getMessage().contains("shape mismatch") && e.getMessage().contains("'x'")
                && e.getMessage().contains("'lora_A'") && e.getMessage().contains("MatMul"), e.getMessage());

        GraphException broadcast = failsToBuild(model(List.of(w("bias", 5)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            return g.reduceSum(g.add(x, t.get("bias")), false);
        }));
        assertTrue(broadcast.getMessage().contains("'bias'") && broadcast.getMessage().contains("do not broadcast"),
                broadcast.getMessage());
    }

    @Test
    void trainableTensorWithNoPathToTheLoss() throws Exception {
        GraphException e = failsToBuild(model(List.of(w("used", 3), w("orphan", 3)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            g.mul(x, t.get("orphan")); // computed, but the loss does not depend on it
            return g.reduceSum(g.mul(x, t.get("used")), false);
        }));
        assertTrue(e.getMessage().contains("'orphan'") && e.getMessage().contains("no path to the loss"), e.getMessage());
    }

    @Test
    void trainableTensorOnlyReachingTheLossThroughIntegerOps() throws Exception {
        GraphException e = failsToBuild(model(List.of(w("w", 3)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            Value positive = g.cast(g.node("Greater").in(t.get("w"), g.scalar(DType.FLOAT, 0)).out(), DType.FLOAT);
            return g.reduceSum(g.mul(x, positive), false);
        }));
        assertTrue(e.getMessage().contains("'w'"), e.getMessage());
    }

    @Test
    void duplicateNames() throws Exception {
        GraphException tensor = failsToBuild(model(List.of(w("w", 3)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            g.initializer("x", TensorData.floats(new long[] {3}, 1, 2, 3));
            return g.reduceSum(g.mul(x, t.get("w")), false);
        }));
        assertTrue(tensor.getMessage().contains("duplicate tensor name 'x'"), tensor.getMessage());

        GraphException parameterVsInput = failsToBuild(model(List.of(w("x", 3)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            return g.reduceSum(g.mul(x, t.get("x")), false);
        }));
        assertTrue(parameterVsInput.getMessage().contains("duplicate tensor name 'x'"), parameterVsInput.getMessage());

        GraphException parameters = failsToBuild(model(List.of(w("w", 3), w("w", 3)), (g, t) -> g.reduceSum(t.get("w"), false)));
        assertTrue(parameters.getMessage().contains("duplicate trainable parameter 'w'"), parameters.getMessage());

        GraphException nodes = failsToBuild(model(List.of(w("w", 3)), (g, t) -> {
            Value a = g.node("Neg").named("same").in(t.get("w")).out();
            return g.reduceSum(g.node("Neg").named("same").in(a).out(), false);
        }));
        assertTrue(nodes.getMessage().contains("duplicate node name 'same'"), nodes.getMessage());
    }

    @Test
    void nonScalarLoss() throws Exception {
        GraphException e = failsToBuild(model(List.of(w("w", 3)), (g, t) -> {
            Value x = g.input("x", DType.FLOAT, Shape.of("batch", 3));
            return g.mul(x, t.get("w"));
        }));
        assertTrue(e.getMessage().contains("must be a scalar"), e.getMessage());
    }
}
