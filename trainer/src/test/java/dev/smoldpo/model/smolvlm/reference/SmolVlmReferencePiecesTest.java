package dev.smoldpo.model.smolvlm.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Hand-checkable pieces of {@link SmolVlmReference}, each against values derived from the upstream formulas. */
class SmolVlmReferencePiecesTest {

    // ------------------------------------------------------------------ RoPE

    @Test
    void rotateHalfOnKnownVector() {
        // rotate_half(x) = cat(-x[d/2:], x[:d/2])
        assertArrayEquals(new double[] {-3, -4, 1, 2}, SmolVlmReference.rotateHalf(new double[] {1, 2, 3, 4}));
        assertArrayEquals(new double[] {-4, -5, -6, 1, 2, 3},
                SmolVlmReference.rotateHalf(new double[] {1, 2, 3, 4, 5, 6}));
    }

    @Test
    void ropeAtPositionZeroIsIdentity() {
        double[] x = {0.3, -1.2, 2.5, 0.7, 9, -4, 0.125, 3};
        for (boolean f32 : new boolean[] {false, true}) {
            double[] y = x.clone();
            SmolVlmReference.applyRope(y, 0, 8, 0, 10000, f32);
            assertArrayEquals(x, y, 0.0);
        }
        // with an offset (second head of a row), the first head is left alone
        double[] y = x.clone();
        SmolVlmReference.applyRope(y, 4, 4, 0, 100000, false);
        assertArrayEquals(x, y, 0.0);
    }

    @Test
    void ropeAtPositionOneByHand() {
        // head_dim 4, theta 10000: inv_freq = [1 / 10000^(0/4), 1 / 10000^(2/4)] = [1, 0.01]
        // emb = cat(freqs, freqs) = [1, 0.01, 1, 0.01] at position 1
        // x = [1, 0, 0, 0]: rotate_half(x) = [0, 0, 1, 0]
        // x * cos + rotate_half(x) * sin = [cos 1, 0, sin 1, 0]
        double[] x = {1, 0, 0, 0};
        SmolVlmReference.applyRope(x, 0, 4, 1, 10000, false);
        assertArrayEquals(new double[] {Math.cos(1), 0, Math.sin(1), 0}, x, 1e-15);
        // x = [0, 2, 0, 3] at position 5: pairs (x1, x3) and (x2, x4) rotate by 5 * 0.01 = 0.05
        // out[1] = 2 cos .05 - 3 sin .05 ; out[3] = 3 cos .05 + 2 sin .05
        double[] z = {0, 2, 0, 3};
        SmolVlmReference.applyRope(z, 0, 4, 5, 10000, false);
        assertArrayEquals(new double[] {0, 2 * Math.cos(.05) - 3 * Math.sin(.05), 0,
            3 * Math.cos(.05) + 2 * Math.sin(.05)}, z, 1e-15);
        // float32 angles only round the angle
        double[] w = {1, 0, 0, 0};
        SmolVlmReference.applyRope(w, 0, 4, 1, 10000, true);
        assertArrayEquals(new double[] {Math.cos(1), 0, Math.sin(1), 0}, w, 1e-7);
    }

    @Test
    void ropePreservesNormAndRelativePosition() {
        // <rope(q, m), rope(k, n)> depends on m - n only
        double[] q = {0.3, -1.2, 2.5, 0.7, 1, 2, -1, 0.5};
        double[] k = {1.1, 0.4, -0.3, 2.0, -0.7, 0.2, 0.9, -1.5};
        double d1 = dot(rope(q, 7), rope(k, 3));
        double d2 = dot(rope(q, 104), rope(k, 100));
        assertEquals(d1, d2, 1e-12);
        assertEquals(dot(q, q), dot(rope(q, 33), rope(q, 33)), 1e-12);
    }

    private static double[] rope(double[] x, long p) {
        double[] y = x.clone();
        SmolVlmReference.applyRope(y, 0, y.length, p, 10000, false);
        return y;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    // ------------------------------------------------------------------ norms, activations

    @Test
    void rmsNormKnownAnswer() {
        // mean(x^2) = (9 + 16) / 2 = 12.5 ; x / sqrt(12.5) * w
        double r = Math.sqrt(12.5);
        assertArrayEquals(new double[] {3 / r, 4 / r},
                SmolVlmReference.rmsNorm(new double[] {3, 4}, new float[] {1, 1}, 0), 1e-15);
        assertArrayEquals(new double[] {2 * 3 / r, 0.5 * 4 / r},
                SmolVlmReference.rmsNorm(new double[] {3, 4}, new float[] {2, 0.5f}, 0), 1e-15);
        // eps inside the root: x = [1, 1], eps = 3 -> 1 / sqrt(1 + 3) = 0.5
        assertArrayEquals(new double[] {0.5, 0.5},
                SmolVlmReference.rmsNorm(new double[] {1, 1}, new float[] {1, 1}, 3), 1e-15);
    }

    @Test
    void layerNormKnownAnswer() {
        // mean 2.5, biased variance 1.25
        double s = Math.sqrt(1.25);
        assertArrayEquals(new double[] {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s},
                SmolVlmReference.layerNorm(new double[] {1, 2, 3, 4}, new float[] {1, 1, 1, 1}, new float[4], 0),
                1e-15);
        // weight and bias, eps: x = [0, 2]: mean 1, var 1, eps 3 -> (x - 1) / 2 = [-0.5, 0.5]
        assertArrayEquals(new double[] {-0.5 * 2 + 1, 0.5 * -1 + 0.25},
                SmolVlmReference.layerNorm(new double[] {0, 2}, new float[] {2, -1}, new float[] {1, 0.25f}, 3),
                1e-15);
    }

    @Test
    void activations() {
        assertEquals(0.0, SmolVlmReference.geluTanh(0), 0);
        // torch.nn.functional.gelu(torch.tensor(1.0, dtype=float64), approximate="tanh") = 0.8411919906082768
        assertEquals(0.8411919906082768, SmolVlmReference.geluTanh(1), 1e-15);
        assertEquals(-0.15880800939172324, SmolVlmReference.geluTanh(-1), 1e-15);
        assertEquals(1 / (1 + Math.exp(-1)), SmolVlmReference.silu(1), 1e-15);
        assertEquals(0, SmolVlmReference.silu(0), 0);
    }

    @Test
    void logSoftmaxAndCompletionLogProb() {
        double[] ls = SmolVlmReference.logSoftmax(new double[] {0, 0, Math.log(2)});
        assertArrayEquals(new double[] {Math.log(0.25), Math.log(0.25), Math.log(0.5)}, ls, 1e-15);
        double[][] logits = {{0, 0, Math.log(2)}, {Math.log(3), 0, 0}, {0, 0, 0}};
        long[] ids = {1, 2, 0};
        // tokens 1..2: log p(ids[1] = 2 | logits[0]) + log p(ids[2] = 0 | logits[1]) = log 0.5 + log 0.6
        assertEquals(Math.log(0.5) + Math.log(0.6), SmolVlmReference.completionLogProb(logits, ids, 1, 3), 1e-15);
        assertEquals(Math.log(0.6), SmolVlmReference.completionLogProb(logits, ids, 2, 3), 1e-15);
        assertEquals(0, SmolVlmReference.completionLogProb(logits, ids, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> SmolVlmReference.completionLogProb(logits, ids, 0, 2));
    }

    // ------------------------------------------------------------------ pixel shuffle

    /**
     * Upstream's Idefics3Connector.pixel_shuffle, read step by step, on x[seq=16, D=2] with
     * x[p][d] = 10 p + d (p = patch index in the row-major 4x4 grid) and s = 2:
     * <pre>
     * x.view(1, 4, 4, 2)           # x1[i][j][d]  = x[4i + j][d]                  (grid row i, col j)
     * x.view(1, 4, 2, 4)           # x2[i][j2][e] = x[4i + 2 j2 + e / 2][e % 2]   (pairs of columns)
     * x.permute(0, 2, 1, 3)        # x3[j2][i][e] = x2[i][j2][e]
     * x.reshape(1, 2, 2, 8)        # x4[j2][i2][f] = x3[j2][2 i2 + f / 4][f % 4]  (pairs of rows)
     * x.permute(0, 2, 1, 3)        # x5[i2][j2][f] = x4[j2][i2][f]
     * x.reshape(1, 4, 8)           # out[2 i2 + j2][f] = x5[i2][j2][f]
     * </pre>
     * so with f = 4a + 2b + d: out[2 i2 + j2][f] = x[4 (2 i2 + a) + 2 j2 + b][d]; token (i2, j2)
     * gathers the 2x2 block of patches at rows 2i2, 2i2+1 and columns 2j2, 2j2+1 as
     * (top-left, top-right, bottom-left, bottom-right), each with its D channels.
     */
    @Test
    void pixelShuffleIndexPattern() {
        double[][] x = new double[16][2];
        for (int p = 0; p < 16; p++) {
            for (int d = 0; d < 2; d++) {
                x[p][d] = 10 * p + d;
            }
        }
        double[][] expected = {
            // token 0 = block rows 0-1, cols 0-1: patches 0, 1, 4, 5
            {0, 1, 10, 11, 40, 41, 50, 51},
            // token 1 = rows 0-1, cols 2-3: patches 2, 3, 6, 7
            {20, 21, 30, 31, 60, 61, 70, 71},
            // token 2 = rows 2-3, cols 0-1: patches 8, 9, 12, 13
            {80, 81, 90, 91, 120, 121, 130, 131},
            // token 3 = rows 2-3, cols 2-3: patches 10, 11, 14, 15
            {100, 101, 110, 111, 140, 141, 150, 151},
        };
        double[][] got = SmolVlmReference.pixelShuffle(x, 2);
        assertEquals(4, got.length);
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(expected[i], got[i], 0.0, "token " + i);
        }
    }

    /**
     * The same six view/permute/reshape calls executed literally on a tiny strided-tensor model
     * (view = reinterpret contiguous data; permute = materialise in the permuted order; reshape =
     * view of the materialised data), for several sizes including SmolVLM's s = 4 on a 32x32 grid.
     */
    @Test
    void pixelShuffleMatchesLiteralViewPermuteReshape() {
        int[][] cases = {{16, 2, 2}, {16, 3, 2}, {64, 5, 4}, {36, 2, 3}, {1024, 3, 4}, {16, 1, 4}};
        for (int[] c : cases) {
            int seq = c[0];
            int dim = c[1];
            int s = c[2];
            double[] data = new double[seq * dim];
            for (int i = 0; i < data.length; i++) {
                data[i] = i;
            }
            int h = (int) Math.sqrt(seq);
            int w = h;
            Tensor t = new Tensor(data, 1, seq, dim);
            t = t.view(1, h, w, dim);
            t = t.view(1, h, w / s, dim * s);
            t = t.permute(0, 2, 1, 3);
            t = t.view(1, w / s, h / s, dim * s * s);
            t = t.permute(0, 2, 1, 3);
            t = t.view(1, seq / (s * s), dim * s * s);

            double[][] x = new double[seq][dim];
            for (int p = 0; p < seq; p++) {
                for (int d = 0; d < dim; d++) {
                    x[p][d] = data[p * dim + d];
                }
            }
            double[][] got = SmolVlmReference.pixelShuffle(x, s);
            double[] flat = new double[got.length * got[0].length];
            for (int i = 0; i < got.length; i++) {
                System.arraycopy(got[i], 0, flat, i * got[0].length, got[0].length);
            }
            assertArrayEquals(t.data, flat, 0.0, Arrays.toString(c));
        }
    }

    /** A contiguous tensor: view reinterprets, permute copies into the permuted order. */
    private record Tensor(double[] data, int... shape) {
        Tensor view(int... newShape) {
            int n = 1;
            for (int d : newShape) {
                n *= d;
            }
            if (n != data.length) {
                throw new IllegalArgumentException("bad view");
            }
            return new Tensor(data, newShape);
        }

        Tensor permute(int... perm) {
            int[] ns = new int[shape.length];
            for (int k = 0; k < perm.length; k++) {
                ns[k] = shape[perm[k]];
            }
            double[] out = new double[data.length];
            int[] idx = new int[shape.length];
            for (int flat = 0; flat < data.length; flat++) {
                // idx = multi-index in the new shape
                int r = flat;
                for (int k = ns.length - 1; k >= 0; k--) {
                    idx[k] = r % ns[k];
                    r /= ns[k];
                }
                int old = 0;
                int[] oldIdx = new int[shape.length];
                for (int k = 0; k < perm.length; k++) {
                    oldIdx[perm[k]] = idx[k];
                }
                for (int k = 0; k < shape.length; k++) {
                    old = old * shape[k] + oldIdx[k];
                }
                out[flat] = data[old];
            }
            return new Tensor(out, ns);
        }
    }

    // ------------------------------------------------------------------ vision position ids

    @Test
    void positionIdsOfAFullTileAreSequential() {
        for (int n : new int[] {4, 32}) {
            boolean[] all = new boolean[n * n];
            Arrays.fill(all, true);
            int[] ids = SmolVlmReference.visionPositionIds(all, n, n, n);
            for (int i = 0; i < n * n; i++) {
                assertEquals(i, ids[i]);
            }
        }
    }

    @Test
    void positionIdsOfAPartialTileByHand() {
        // 4x4 grid (num_patches_per_side n = 4), valid region = top-left 2 rows x 3 columns.
        // boundaries = arange(1/4, 1, 1/4) = [0.25, 0.5, 0.75]
        // nb_h = 2: coords_h = arange(0, 1 - 1e-6, 1/2) = [0, 0.5]
        //   bucketize(right=True) counts boundaries <= coord: 0 -> 0; 0.5 -> 2 (0.25 and 0.5)
        // nb_w = 3: coords_w = [0, 1/3, 2/3] -> 0, 1 (0.25), 2 (0.25, 0.5)
        // pos = bucket_h * 4 + bucket_w = [[0, 1, 2], [8, 9, 10]], put on the valid patches in
        // row-major order; padding patches keep 0.
        boolean[] m = new boolean[16];
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 3; c++) {
                m[r * 4 + c] = true;
            }
        }
        int[] expected = {
            0, 1, 2, 0,
            8, 9, 10, 0,
            0, 0, 0, 0,
            0, 0, 0, 0};
        assertArrayEquals(expected, SmolVlmReference.visionPositionIds(m, 4, 4, 4));

        // one valid row of one patch: everything 0
        boolean[] one = new boolean[16];
        one[0] = true;
        assertArrayEquals(new int[16], SmolVlmReference.visionPositionIds(one, 4, 4, 4));
    }

    @Test
    void positionIdsAtSmolVlmSizeByHand() {
        // n = 32 (512 / 16). Valid region 16 x 3 in the 32 x 32 grid.
        // nb_h = 16: coords i/16 = 2i/32 fall exactly on the boundaries k/32 (exact in float32),
        //   right=True counts the equal boundary: bucket = 2i.
        // nb_w = 3: float32(1/3) = 0.3333333432674408, coords = [0, 0.33333334, 0.6666667]
        //   boundaries k/32 <= 0.33333334 -> k <= 10 (10/32 = 0.3125, 11/32 = 0.34375) -> 10
        //   boundaries k/32 <= 0.6666667 -> k <= 21 (21/32 = 0.65625, 22/32 = 0.6875) -> 21
        boolean[] m = new boolean[32 * 32];
        for (int r = 0; r < 16; r++) {
            for (int c = 0; c < 3; c++) {
                m[r * 32 + c] = true;
            }
        }
        int[] ids = SmolVlmReference.visionPositionIds(m, 32, 32, 32);
        int[] cols = {0, 10, 21};
        for (int r = 0; r < 32; r++) {
            for (int c = 0; c < 32; c++) {
                int expected = (r < 16 && c < 3) ? 2 * r * 32 + cols[c] : 0;
                assertEquals(expected, ids[r * 32 + c], "patch " + r + "," + c);
            }
        }
    }

    @Test
    void positionIdsRejectNonRectangularRegions() {
        boolean[] m = new boolean[16];
        m[0] = m[1] = m[4] = true; // L shape: nb_h = 2, nb_w = 2 but only 3 valid
        assertThrows(IllegalArgumentException.class, () -> SmolVlmReference.visionPositionIds(m, 4, 4, 4));
    }

    @Test
    void patchMaskFromPixels() {
        // 8x8 pixels, patch 4: pixel (5, 1) valid -> only patch (1, 0) valid
        boolean[] px = new boolean[64];
        px[5 * 8 + 1] = true;
        assertArrayEquals(new boolean[] {false, false, true, false}, SmolVlmReference.patchMask(px, 8, 4));
        Arrays.fill(px, true);
        assertArrayEquals(new boolean[] {true, true, true, true}, SmolVlmReference.patchMask(px, 8, 4));
    }

    // ------------------------------------------------------------------ attention

    @Test
    void groupedQueryAttentionUsesRepeatKvMapping() {
        // 4 query heads, 2 KV heads, head_dim 1, one query and two keys. Query heads 0, 1 must see KV
        // head 0 and heads 2, 3 KV head 1 (repeat_kv: kv head j serves j*G .. j*G+G-1).
        double[][] q = {{1, 1, 1, 1}};
        double[][] k = {{0, 0}, {0, 0}}; // equal scores: plain average of values
        double[][] v = {{1, 10}, {3, 30}};
        boolean[][] allowed = {{true, true}};
        double[][] out = SmolVlmReference.attention(q, k, v, 4, 2, 1, allowed);
        assertArrayEquals(new double[] {2, 2, 20, 20}, out[0], 1e-15);
        // masking the second key leaves only the first
        out = SmolVlmReference.attention(q, k, v, 4, 2, 1, new boolean[][] {{true, false}});
        assertArrayEquals(new double[] {1, 1, 10, 10}, out[0], 0.0);
    }

    @Test
    void attentionScaleAndSoftmax() {
        // one head, head_dim 4 -> scale 1/2; q.k = [0, 2] -> scores [0, 1] -> softmax [1/(1+e), e/(1+e)]
        double[][] q = {{1, 1, 0, 0}};
        double[][] k = {{0, 0, 0, 0}, {1, 1, 0, 0}};
        double[][] v = {{1, 0, 0, 0}, {0, 1, 0, 0}};
        double[][] out = SmolVlmReference.attention(q, k, v, 1, 1, 4, new boolean[][] {{true, true}});
        double e = Math.E;
        assertArrayEquals(new double[] {1 / (1 + e), e / (1 + e), 0, 0}, out[0], 1e-15);
    }
}
