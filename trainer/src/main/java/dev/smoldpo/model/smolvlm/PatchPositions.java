package dev.smoldpo.model.smolvlm;

/**
 * Per-tile patch mask and bucketed position ids of SmolVLM's vision embeddings. A patch is valid
 * if any of its pixels is real. The valid patches form an h × w block; their fractional
 * coordinates i/h and j/w are bucketed into n buckets per side (n = image_size / patch_size),
 * id = bucket_row · n + bucket_col; padding patches keep id 0. A full tile gives 0 … n²−1.
 */
public final class PatchPositions {
    private PatchPositions() {}

    /** The patch mask of one tile from its pixel mask ([S·S], row-major; null = all real). */
    public static boolean[] patchMask(boolean[] pixelMask, int tileSize, int patchSize) {
        int n = tileSize / patchSize;
        boolean[] mask = new boolean[n * n];
        if (pixelMask == null) {
            java.util.Arrays.fill(mask, true);
            return mask;
        }
        for (int y = 0; y < tileSize; y++) {
            for (int x = 0; x < tileSize; x++) {
                if (pixelMask[y * tileSize + x]) {
                    mask[(y / patchSize) * n + x / patchSize] = true;
                }
            }
        }
        return mask;
    }

    /** Position ids [n·n] for a patch mask, following upstream's bucketize(…, right=True). */
    public static long[] positionIds(boolean[] patchMask, int patchesPerSide) {
        int n = patchesPerSide;
        int rows = 0;
        int cols = 0;
        for (int i = 0; i < n; i++) {
            rows += patchMask[i * n] ? 1 : 0;
            cols += patchMask[i] ? 1 : 0;
        }
        long[] ids = new long[n * n];
        if (rows == 0 || cols == 0) {
            return ids;
        }
        long[] bucketRow = buckets(rows, n);
        long[] bucketCol = buckets(cols, n);
        int k = 0;
        for (int idx = 0; idx < n * n; idx++) {
            if (patchMask[idx]) {
                // valid patches are filled in row-major order, as upstream assigns pos_ids[mask]
                int i = k / cols;
                int j = k % cols;
                ids[idx] = bucketRow[Math.min(i, rows - 1)] * n + bucketCol[Math.min(j, cols - 1)];
                k++;
            }
        }
        return ids;
    }

    /** bucketize(arange(0, 1 − 1e−6, 1/count), boundaries = [1/n, 2/n, …, (n−1)/n], right=True). */
    private static long[] buckets(int count, int n) {
        long[] out = new long[count];
        for (int i = 0; i < count; i++) {
            // upstream's step 1/nb is a float32 tensor; arange accumulates start + i·step in double
            // and stores float32. The boundaries' step is a Python float (double).
            float coord = (float) (i * (double) (1f / count));
            int bucket = 0;
            for (int b = 1; b < n; b++) {
                float boundary = (float) (1.0 / n + (b - 1) * (1.0 / n));
                if (coord >= boundary) {
                    bucket = b;
                }
            }
            out[i] = bucket;
        }
        return out;
    }
}
