package dev.smoldpo.onnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our packing of quantized weights, read by ONNX Runtime's own kernels: each quantized op's output
 * equals the product (or lookup) computed in Java from the dequantized weights, so the bytes are laid
 * out as ORT reads them (B, scales and zero points of MatMulNBits; B of DynamicQuantizeMatMul;
 * GatherBlockQuantized's rows).
 */
class QuantizedOpsOrtTest {
    private static final int ROWS = 6;
    private static final int K = 80;   // 2.5 blocks of 32: the last block is padded
    private static final int N = 24;

    @TempDir
    Path dir;

    static float[] random(int n, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    static Graph linear(float[] w) {
        Graph g = new Graph("linear");
        Value a = g.input("a", DType.FLOAT, Shape.of("rows", K));
        Value weight = g.initializer("w", TensorData.floats(new long[] {K, N}, w));
        g.output(g.node("MatMul").in(a, weight).outputNames("y").out());
        return g;
    }

    /** a [ROWS, K] times the dequantized [K, N] weight, in double. */
    static double[] product(float[] a, BlockQuantizer.Blocks q) {
        double[] y = new double[ROWS * N];
        for (int r = 0; r < ROWS; r++) {
            for (int n = 0; n < N; n++) {
                double s = 0;
                for (int k = 0; k < K; k++) {
                    s += (double) a[r * K + k] * q.dequantized(n, k);
                }
                y[r * N + n] = s;
            }
        }
        return y;
    }

    @Test
    void matMulNBitsComputesWithTheDequantizedWeight() throws Exception {
        float[] w = random(K * N, 1, 0.05);
        float[] a = random(ROWS * K, 2, 1);
        Graph q4 = WeightQuantizationPass.apply(linear(w), 4, 32, false);
        assertEquals(1, q4.nodes().size());
        assertEquals("MatMulNBits", q4.nodes().get(0).opType());
        float[] ort = OrtRun.run(q4, dir.resolve("q4"), Map.of("a", TensorData.floats(new long[] {ROWS, K}, a))).get("y");
        double[] expected = product(a, BlockQuantizer.quantize(w, N, K, 1, N, 4, 32, false));
        assertClose(expected, ort, 2e-5, "MatMulNBits");
    }

    @Test
    void matMulNBitsWithFloat16ActivationsComputesWithTheDequantizedWeight() throws Exception {
        float[] w = random(K * N, 3, 0.05);
        float[] a = random(ROWS * K, 4, 1);
        Graph q4f16 = DtypePasses.apply(linear(w), DeploymentDtype.Q4F16, 32, Set.of(), Set.of());
        assertTrue(q4f16.nodes().stream().anyMatch(n -> n.opType().equals("MatMulNBits") && n.input(0).dtype() == DType.FLOAT16));
        float[] ort = OrtRun.run(q4f16, dir.resolve("q4f16"), Map.of("a", TensorData.floats(new long[] {ROWS, K}, a))).get("y");
        double[] expected = product(a, BlockQuantizer.quantize(w, N, K, 1, N, 4, 32, true));
        // float16 inputs and outputs: a few units of 2^-11 of the result's size
        assertClose(expected, ort, 4e-3, "MatMulNBits (float16)");
    }

    @Test
    void dynamicQuantizeMatMulComputesWithTheDequantizedWeight() throws Exception {
        float[] w = random(K * N, 5, 0.05);
        float[] a = random(ROWS * K, 6, 1);
        Graph q8 = WeightQuantizationPass.apply(linear(w), 8, 32, false);
        assertEquals("DynamicQuantizeMatMul", q8.nodes().get(0).opType());
        float[] ort = OrtRun.run(q8, dir.resolve("q8"), Map.of("a", TensorData.floats(new long[] {ROWS, K}, a))).get("y");
        BlockQuantizer.Blocks q = BlockQuantizer.quantize(w, N, K, 1, N, 8, K, false);
        double[] expected = product(a, q);
        // ORT also quantizes a (uint8, one scale for the tensor): each a[k] moves by at most half its step
        double lo = 0;
        double hi = 0;
        for (float v : a) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        double halfStep = (hi - lo) / 255 / 2;
        for (int r = 0; r < ROWS; r++) {
            for (int n = 0; n < N; n++) {
                double bound = 1e-5;
                for (int k = 0; k < K; k++) {
                    bound += halfStep * Math.abs(q.dequantized(n, k));
                }
                double err = Math.abs(ort[r * N + n] - expected[r * N + n]);
                assertTrue(err <= bound, "row " + r + " col " + n + ": " + ort[r * N + n] + " vs " + expected[r * N + n]
                        + " (bound " + bound + ")");
            }
        }
    }

    @Test
    void gatherBlockQuantizedReturnsTheDequantizedRows() throws Exception {
        for (int bits : new int[] {4, 8}) {
            int rows = 40;
            int width = 64;
            float[] table = random(rows * width, 7 + bits, 0.5);
            Graph g = new Graph("lookup");
            Value ids = g.input("ids", DType.INT64, Shape.of(1, 3));
            g.output(g.gather(g.initializer("table", TensorData.floats(new long[] {rows, width}, table)), ids, 0));
            Graph q = WeightQuantizationPass.apply(g, bits, 32, false);
            assertEquals("GatherBlockQuantized", q.nodes().get(0).opType());
            long[] pick = {3, 39, 0};
            float[] ort = OrtRun.run(q, dir.resolve("gather" + bits), Map.of("ids", TensorData.longs(new long[] {1, 3}, pick)))
                    .values().iterator().next();
            BlockQuantizer.Blocks blocks = BlockQuantizer.quantize(table, rows, width, width, 1, bits, 32, false);
            double[] expected = new double[3 * width];
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < width; j++) {
                    expected[i * width + j] = blocks.dequantized((int) pick[i], j);
                }
            }
            assertClose(expected, ort, 1e-6, "GatherBlockQuantized " + bits + " bits");
        }
    }

    static void assertClose(double[] expected, float[] actual, double relative, String what) {
        assertEquals(expected.length, actual.length, what + ": element count");
        double scale = 0;
        for (double v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        System.out.printf("%s: max |ORT - Java| %.3g (max |value| %.3g)%n", what, worst, scale);
        assertTrue(worst <= relative * scale, what + ": max difference " + worst + " > " + relative + " x " + scale);
    }
}
