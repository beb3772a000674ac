package dev.smoldpo.autodiff;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Gradient checkpointing ({@link Recomputation}): a stack of attention-like layers, each in its own
 * recompute scope, must give exactly the gradients of the same stack without scopes (the copies repeat
 * the same kernels on the same inputs), while no gradient node reads a value that lives only inside a scope.
 */
class RecomputationTest {
    private static final int LAYERS = 3;
    private static final long B = 2;
    private static final long T = 5;
    private static final long D = 8;

    private record Built(Graph graph, int forwardNodes, List<String> gradients) {}

    /** x ← x + tanh(dropout(softmax(mask(x W_l)) x) A_l) per layer; the loss is sum(x²). */
    private static Built build(boolean scoped) {
        Random r = new Random(7);
        Graph g = new Graph(scoped ? "scoped" : "plain");
        Value x0 = g.input("x", DType.FLOAT, Shape.of("b", T, D));
        Value mask = g.input("mask", DType.BOOL, Shape.of("b", 1, T));
        List<Value> adapters = new ArrayList<>();
        Value x = x0;
        for (int l = 0; l < LAYERS; l++) {
            Value a = g.input("a" + l, DType.FLOAT, Shape.of(D, D));
            adapters.add(a);
            Value w = g.constant(TensorData.floats(new long[] {D, T}, random(r, (int) (D * T))));
            Value in = x;
            x = g.recomputeScope(scoped ? "layer" + l : null, () -> {
                Value scores = g.where(mask, g.matMul(in, w), g.scalar(DType.FLOAT, -1e9));
                Value mixed = g.matMul(g.softmax(scores, -1), in);
                Value dropped = g.dropout(mixed, 0.2, g.constant(TensorData.bools(new long[0], true)), 11).get(0);
                return g.add(in, g.unary("Tanh", g.matMul(dropped, a)));
            });
        }
        Value loss = g.reduceSum(g.mul(x, x), false);
        g.output(loss);
        int forward = g.nodes().size();
        Map<String, Value> grads = Autodiff.gradients(g, loss, adapters);
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, Value> e : grads.entrySet()) {
            Value named = g.node("Identity").in(e.getValue()).outputNames("grad_" + e.getKey()).out();
            g.output(named);
            names.add(named.name());
        }
        return new Built(g, forward, names);
    }

    @Test
    void recomputedGradientsEqualTheKeptOnesExactly() throws Exception {
        Map<String, float[]> plain = run(build(false));
        Map<String, float[]> scoped = run(build(true));
        assertEquals(plain.keySet(), scoped.keySet());
        for (String name : plain.keySet()) {
            assertArrayEquals(plain.get(name), scoped.get(name), 0f, name);
        }
    }

    @Test
    void gradientNodesReadNoValueThatLivesOnlyInsideAScope() {
        assertTrue(scopeInternalReads(build(false), insideValues(build(true))) > 0,
                "without scopes the gradient rules read forward values from inside the layers");
        Built scoped = build(true);
        assertEquals(0, scopeInternalReads(scoped, insideValues(scoped)));
        long copies = scoped.graph().nodes().stream().filter(n -> n.name().contains("_recomputed")).count();
        assertTrue(copies >= LAYERS * 4L, "each layer's softmax chain is recomputed, " + copies + " copies");
        long droppedCopies = scoped.graph().nodes().stream()
                .filter(n -> n.opType().equals("Dropout") && n.name().contains("_recomputed")).count();
        assertEquals(0, droppedCopies, "Dropout draws random numbers: its output is kept, never recomputed");
    }

    /** Names of values made inside a scope and read only inside it (by the forward nodes). */
    private static Set<String> insideValues(Built b) {
        List<Node> forward = b.graph().nodes().subList(0, b.forwardNodes());
        Map<String, Set<String>> readers = new HashMap<>();
        for (Node n : forward) {
            for (Value in : n.inputs()) {
                readers.computeIfAbsent(in.name(), k -> new HashSet<>()).add(String.valueOf(n.recomputeScope()));
            }
        }
        Set<String> inside = new HashSet<>();
        for (Node n : forward) {
            if (n.recomputeScope() == null || n.opType().equals("Dropout")) {
                continue;
            }
            for (Value out : n.outputs()) {
                if (readers.getOrDefault(out.name(), Set.of()).stream().allMatch(n.recomputeScope()::equals)
                        && !b.graph().outputs().contains(out)) {
                    inside.add(out.name());
                }
            }
        }
        return inside;
    }

    private static long scopeInternalReads(Built b, Set<String> inside) {
        List<Node> gradientNodes = b.graph().nodes().subList(b.forwardNodes(), b.graph().nodes().size());
        return gradientNodes.stream().flatMap(n -> n.inputs().stream()).filter(v -> v != null && inside.contains(v.name()))
                .count();
    }

    private static Map<String, float[]> run(Built b) throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        Random r = new Random(3);
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        feed.put("x", OnnxTensor.createTensor(env, FloatBuffer.wrap(random(r, (int) (B * T * D))), new long[] {B, T, D}));
        boolean[][][] mask = new boolean[(int) B][1][(int) T];
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < T; j++) {
                mask[i][0][j] = j < T - i; // the second row has a padded key
            }
        }
        feed.put("mask", OnnxTensor.createTensor(env, mask));
        for (int l = 0; l < LAYERS; l++) {
            feed.put("a" + l, OnnxTensor.createTensor(env, FloatBuffer.wrap(random(r, (int) (D * D))), new long[] {D, D}));
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession s = env.createSession(ModelWriter.toProto(b.graph(), null).toByteArray(), options);
                 OrtSession.Result res = s.run(feed)) {
                for (String name : b.gradients()) {
                    FloatBuffer fb = ((OnnxTensor) res.get(name).orElseThrow()).getFloatBuffer();
                    float[] v = new float[fb.remaining()];
                    fb.get(v);
                    out.put(name, v);
                }
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
        return out;
    }

    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * 0.5);
        }
        return v;
    }
}
