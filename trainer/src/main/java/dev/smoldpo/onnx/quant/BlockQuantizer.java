package dev.smoldpo.onnx.quant;

/**
 * Asymmetric block-wise quantization of the rows of a float matrix, as ORT's weight-only quantizers
 * lay it out (onnxruntime/python/tools/quantization/matmul_nbits_quantizer.py, its asymmetric case):
 * each block of {@code blockSize} consecutive values of a row gets a scale and an integer zero point,
 * with zero always representable, and value ≈ (q − zero_point) · scale with q in [0, 2^bits − 1]. A row
 * whose length is not a multiple of the block size is padded with zeros.
 *
 * <p>Unlike plain round-to-nearest over the block's full range, the range is also tried clipped
 * ({@link #CLIP_RATIOS}) and the one with the least squared error kept: giving up the rare extreme
 * value buys a finer step for all the others (the clip search of AWQ and llama.cpp, without
 * activation statistics).
 */
final class BlockQuantizer {
    /** Fractions of a block's [min, max] range tried as the quantization range. */
    static final double[] CLIP_RATIOS = {1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6};

    private BlockQuantizer() {}

    /**
     * The quantized rows: {@code q} one value per byte, row-major [rows, blocks · blockSize];
     * {@code scales} and {@code zeroPoints} row-major [rows, blocks].
     */
    record Blocks(int rows, int length, int blockSize, int bits, byte[] q, float[] scales, byte[] zeroPoints) {
        int blocks() {
            return scales.length / rows;
        }

        int paddedLength() {
            return blocks() * blockSize;
        }

        /** The dequantized value of row {@code r}, element {@code j}. */
        float dequantized(int r, int j) {
            int b = r * blocks() + j / blockSize;
            return ((q[r * paddedLength() + j] & 0xFF) - (zeroPoints[b] & 0xFF)) * scales[b];
        }

        /** q packed {@code 8 / bits} values per byte, low bits first, row by row: [rows, paddedLength · bits / 8]. */
        byte[] packedValues() {
            return pack(q, rows, paddedLength(), bits);
        }

        /** Zero points packed the same way: [rows, ceil(blocks · bits / 8)]. */
        byte[] packedZeroPoints() {
            return pack(zeroPoints, rows, blocks(), bits);
        }
    }

    /**
     * Quantizes {@code rows} rows of {@code length} values, element j of row r at
     * {@code data[r · rowStride + j · elementStride]} (so a transposed matrix needs no copy).
     *
     * @param halfScales round each scale to float16 first, for graphs that hold the scales in float16
     */
    static Blocks quantize(float[] data, int rows, int length, int rowStride, int elementStride, int bits, int blockSize,
                           boolean halfScales) {
        if (bits < 2 || bits > 8 || blockSize < 1) {
            throw new IllegalArgumentException("bits " + bits + ", block size " + blockSize);
        }
        int blocks = (length + blockSize - 1) / blockSize;
        int padded = blocks * blockSize;
        int maxQ = (1 << bits) - 1;
        byte[] q = new byte[Math.multiplyExact(rows, padded)];
        float[] scales = new float[rows * blocks];
        byte[] zeroPoints = new byte[rows * blocks];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                int from = b * blockSize;
                int to = Math.min(length, from + blockSize);
                float lo = 0;
                float hi = 0;
                for (int j = from; j < to; j++) {
                    float v = data[r * rowStride + j * elementStride];
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException("non-finite weight " + v + " at row " + r + ", element " + j);
                    }
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
                float scale = 0;
                int zp = 0;
                double best = Double.POSITIVE_INFINITY;
                for (double ratio : CLIP_RATIOS) {
                    float s = (float) (ratio * (hi - lo) / maxQ);
                    if (halfScales) {
                        s = Float.float16ToFloat(Float.floatToFloat16(s));
                    }
                    if (s == 0) {
                        break;
                    }
                    int z = clamp((int) Math.rint(-ratio * lo / s), maxQ);
                    double err = 0;
                    for (int j = from; j < to && err < best; j++) {
                        float v = data[r * rowStride + j * elementStride];
                        double d = (clamp((int) Math.rint(v / s) + z, maxQ) - z) * (double) s - v;
                        err += d * d;
                    }
                    if (err < best) {
                        best = err;
                        scale = s;
                        zp = z;
                    }
                }
                scales[r * blocks + b] = scale;
                zeroPoints[r * blocks + b] = (byte) zp;
                for (int j = from; j < from + blockSize; j++) {
                    float v = j < to ? data[r * rowStride + j * elementStride] : 0f;
                    int level = scale == 0 ? zp : clamp((int) Math.rint(v / scale) + zp, maxQ);
                    q[r * padded + j] = (byte) level;
                }
            }
        }
        return new Blocks(rows, length, blockSize, bits, q, scales, zeroPoints);
    }

    private static int clamp(int v, int max) {
        return Math.max(0, Math.min(max, v));
    }

    /** [rows, count] values of {@code bits} each, packed per row into ceil(count · bits / 8) bytes, low bits first. */
    static byte[] pack(byte[] values, int rows, int count, int bits) {
        if (8 % bits != 0) {
            throw new IllegalArgumentException("cannot pack " + bits + "-bit values into whole bytes");
        }
        int perByte = 8 / bits;
        int rowBytes = (count + perByte - 1) / perByte;
        byte[] out = new byte[rows * rowBytes];
        int mask = (1 << bits) - 1;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < count; j++) {
                int v = values[r * count + j] & mask;
                out[r * rowBytes + j / perByte] |= (byte) (v << (bits * (j % perByte)));
            }
        }
        return out;
    }
}
