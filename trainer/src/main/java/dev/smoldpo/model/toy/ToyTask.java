package dev.smoldpo.model.toy;

import dev.smoldpo.onnx.TensorData;
import java.util.SplittableRandom;

/**
 * A synthetic regression task the toy LoRA MLP can learn: the teacher is the same frozen network
 * with a hidden low-rank change to both layers, so a rank-r adapter can fit it exactly.
 */
public final class ToyTask {
    /** Layer sizes: in → hidden → out. */
    public record Dims(int in, int hidden, int out) {
        public static final Dims STANDARD = new Dims(8, 32, 4);
    }

    /** The frozen weights, row-major [in, out] matrices as TensorData. */
    public record BaseWeights(TensorData w1, TensorData b1, TensorData w2, TensorData b2) {
        static BaseWeights random(Dims d, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            return new BaseWeights(uniform(r, 1 / Math.sqrt(d.in()), d.in(), d.hidden()), uniform(r, 0.1, d.hidden()),
                    uniform(r, 1 / Math.sqrt(d.hidden()), d.hidden(), d.out()), uniform(r, 0.1, d.out()));
        }
    }

    /** A batch: inputs [n, in] and targets [n, out], row-major. */
    public record Batch(int size, float[] x, float[] target) {}

    private final Dims dims;
    private final float[] w1;
    private final float[] b1;
    private final float[] w2;
    private final float[] b2;

    public ToyTask(ToyLoraMlp model, long teacherSeed) {
        this.dims = model.dims();
        BaseWeights base = model.baseWeights();
        SplittableRandom r = new SplittableRandom(teacherSeed);
        this.w1 = plusLowRank(base.w1().toFloatArray(), dims.in(), dims.hidden(), r);
        this.b1 = base.b1().toFloatArray();
        this.w2 = plusLowRank(base.w2().toFloatArray(), dims.hidden(), dims.out(), r);
        this.b2 = base.b2().toFloatArray();
    }

    /** {@code n} examples drawn from the seed; the same seed gives the same batch. */
    public Batch batch(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * dims.in()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        float[] y = new float[n * dims.out()];
        for (int e = 0; e < n; e++) {
            float[] h = new float[dims.hidden()];
            for (int j = 0; j < dims.hidden(); j++) {
                double s = b1[j];
                for (int i = 0; i < dims.in(); i++) {
                    s += x[e * dims.in() + i] * w1[i * dims.hidden() + j];
                }
                h[j] = (float) Math.tanh(s);
            }
            for (int k = 0; k < dims.out(); k++) {
                double s = b2[k];
                for (int j = 0; j < dims.hidden(); j++) {
                    s += h[j] * w2[j * dims.out() + k];
                }
                y[e * dims.out() + k] = (float) s;
            }
        }
        return new Batch(n, x, y);
    }

    private static float[] plusLowRank(float[] w, int rows, int cols, SplittableRandom r) {
        float[] out = w.clone();
        for (int k = 0; k < 2; k++) {
            double[] u = new double[rows];
            double[] v = new double[cols];
            for (int i = 0; i < rows; i++) {
                u[i] = r.nextDouble() * 2 - 1;
            }
            for (int j = 0; j < cols; j++) {
                v[j] = (r.nextDouble() * 2 - 1) * 0.6;
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    out[i * cols + j] += (float) (u[i] * v[j]);
                }
            }
        }
        return out;
    }

    static TensorData uniform(SplittableRandom r, double bound, int... shape) {
        long[] dims = new long[shape.length];
        int n = 1;
        for (int i = 0; i < shape.length; i++) {
            dims[i] = shape[i];
            n *= shape[i];
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        }
        return TensorData.floats(dims, v);
    }

    static TensorData zeros(int... shape) {
        long[] dims = new long[shape.length];
        int n = 1;
        for (int i = 0; i < shape.length; i++) {
            dims[i] = shape[i];
            n *= shape[i];
        }
        return TensorData.floats(dims, new float[n]);
    }
}
