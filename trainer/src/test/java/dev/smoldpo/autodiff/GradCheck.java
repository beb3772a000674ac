package dev.smoldpo.autodiff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

/**
 * Finite-difference check of reverse-mode gradients, run through a real ORT session.
 *
 * <p>The checked scalar is {@code sum(y * (0.3 + 0.5 y + 0.2 y^2))} for the op output y: the
 * value-dependent weights break the symmetries (a softmax's outputs sum to one, so a plain sum has zero gradient)
 * without adding learnable state. Central differences in float64 have truncation error O(h^2) and
 * round-off O(eps/h); with h = 1e-5 both stay near 1e-10, so a relative tolerance of 1e-6 leaves
 * four orders of margin. Ops whose ORT CPU kernels exist only in float32 are checked in float32
 * with h = 1e-2 (round-off ~1e-5 relative) and a tolerance of 1e-2.
 */
final class GradCheck {
    /** One input of the op under test: a name, a declared (possibly symbolic) shape and the fed value. */
    record In(String name, DType dtype, Shape declared, long[] dims, Object data, boolean differentiable) {}

    private final DType dtype;
    private final List<In> inputs = new ArrayList<>();
    private final Random random = new Random(42);

    GradCheck(DType dtype) {
        this.dtype = dtype;
    }

    /** A differentiable input with random values in [-1, 1] (or [lo, hi] via {@link #positive}). */
    GradCheck x(String name, Shape declared, long... dims) {
        return x(name, declared, dims, -1, 1);
    }

    GradCheck positive(String name, Shape declared, long... dims) {
        return x(name, declared, dims, 0.5, 2);
    }

    GradCheck x(String name, Shape declared, long[] dims, double lo, double hi) {
        int n = count(dims);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * random.nextDouble();
        }
        inputs.add(new In(name, dtype, declared, dims, v, true));
        return this;
    }

    /** A fed INT64 input (indices), not differentiated. */
    GradCheck indices(String name, Shape declared, long[] dims, long... values) {
        inputs.add(new In(name, DType.INT64, declared, dims, values, false));
        return this;
    }

    /** A fed BOOL input (conditions, masks). */
    GradCheck bools(String name, Shape declared, long[] dims, boolean... values) {
        inputs.add(new In(name, DType.BOOL, declared, dims, values, false));
        return this;
    }

    /** Builds the op from the declared inputs, differentiates, and compares with finite differences. */
    void checkWithGraph(BiFunction<Graph, List<Value>, Value> op) {
        Graph graph = new Graph("gradcheck");
        List<Value> values = new ArrayList<>();
        List<Value> wrt = new ArrayList<>();
        for (In in : inputs) {
            Value v = graph.input(in.name(), in.dtype(), in.declared());
            values.add(v);
            if (in.differentiable()) {
                wrt.add(v);
            }
        }
        Value y = op.apply(graph, values);
        // weights 0.3 + 0.5 y + 0.2 y^2: a polynomial, so every ORT type has the kernels
        Value quadratic = graph.add(graph.scalar(y.dtype(), 0.5), graph.mul(y, graph.scalar(y.dtype(), 0.2)));
        Value weights = graph.add(graph.scalar(y.dtype(), 0.3), graph.mul(y, quadratic));
        Value loss = graph.reduceSum(graph.mul(y, weights), false);
        graph.output(loss);
        Map<String, Value> grads = Autodiff.gradients(graph, loss, wrt);
        Map<String, Value> gradOutputs = new LinkedHashMap<>();
        for (Map.Entry<String, Value> e : grads.entrySet()) {
            // Identity gives each gradient its own output name (two inputs of an Add share one gradient)
            Value named = graph.node("Identity").in(e.getValue()).outputNames("grad_" + e.getKey()).out();
            graph.output(named);
            gradOutputs.put(e.getKey(), named);
        }
        byte[] model = ModelWriter.toProto(graph, null).toByteArray();
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model, options)) {
                Map<String, double[]> analytic = new LinkedHashMap<>();
                try (OrtSession.Result r = run(env, session, null, -1, 0)) {
                    for (Map.Entry<String, Value> e : gradOutputs.entrySet()) {
                        analytic.put(e.getKey(), toDoubles(r.get(e.getValue().name()).orElseThrow()));
                    }
                }
                boolean f64 = dtype == DType.DOUBLE;
                double h = f64 ? 1e-5 : 1e-2;
                double rtol = f64 ? 1e-6 : 1e-2;
                double atol = f64 ? 1e-9 : 1e-3;
                for (In in : inputs) {
                    if (!in.differentiable()) {
                        continue;
                    }
                    double[] a = analytic.get(in.name());
                    double[] x = (double[]) in.data();
                    assertEquals(x.length, a.length, "gradient size of " + in.name());
                    for (int j = 0; j < x.length; j++) {
                        double plus = scalar(run(env, session, in.name(), j, h), loss);
                        double minus = scalar(run(env, session, in.name(), j, -h), loss);
                        double numeric = (plus - minus) / (2 * h);
                        double err = Math.abs(a[j] - numeric);
                        assertTrue(err <= atol + rtol * Math.abs(numeric),
                                "d loss / d " + in.name() + "[" + j + "]: analytic " + a[j] + " vs numeric " + numeric);
                    }
                }
            }
        } catch (OrtException e) {
            throw new AssertionError(e);
        }
    }

    private double scalar(OrtSession.Result r, Value loss) throws OrtException {
        try (r) {
            return toDoubles(r.get(loss.name()).orElseThrow())[0];
        }
    }

    private OrtSession.Result run(OrtEnvironment env, OrtSession session, String perturbed, int index, double h)
            throws OrtException {
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            for (In in : inputs) {
                feed.put(in.name(), tensor(env, in, in.name().equals(perturbed) ? index : -1, h));
            }
            return session.run(feed);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor tensor(OrtEnvironment env, In in, int index, double h) throws OrtException {
        return switch (in.dtype()) {
            case DOUBLE -> {
                double[] v = ((double[]) in.data()).clone();
                if (index >= 0) {
                    v[index] += h;
                }
                yield OnnxTensor.createTensor(env, DoubleBuffer.wrap(v), in.dims());
            }
            case FLOAT -> {
                double[] d = (double[]) in.data();
                float[] v = new float[d.length];
                for (int i = 0; i < d.length; i++) {
                    v[i] = (float) d[i];
                }
                if (index >= 0) {
                    v[index] += (float) h;
                }
                yield OnnxTensor.createTensor(env, FloatBuffer.wrap(v), in.dims());
            }
            case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap((long[]) in.data()), in.dims());
            case BOOL -> {
                boolean[] b = (boolean[]) in.data();
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(b.length);
                for (boolean x : b) {
                    buf.put((byte) (x ? 1 : 0));
                }
                buf.flip();
                yield OnnxTensor.createTensor(env, buf, in.dims(), ai.onnxruntime.OnnxJavaType.BOOL);
            }
            default -> throw new IllegalArgumentException(in.dtype().toString());
        };
    }

    private static double[] toDoubles(ai.onnxruntime.OnnxValue v) {
        OnnxTensor t = (OnnxTensor) v;
        if (t.getInfo().type == ai.onnxruntime.OnnxJavaType.DOUBLE) {
            DoubleBuffer b = t.getDoubleBuffer();
            double[] out = new double[b.remaining()];
            b.get(out);
            return out;
        }
        FloatBuffer b = t.getFloatBuffer();
        double[] out = new double[b.remaining()];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.get(i);
        }
        return out;
    }

    private static int count(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return Math.toIntExact(n);
    }
}
