package dev.smoldpo.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Schemas of the weight-quantized com.microsoft ops the deployment precisions write
 * ({@code dev.smoldpo.onnx.quant}), as ORT's contrib schemas define them (docs/ContribOperators.md):
 * MatMulNBits (block-wise n-bit B), DynamicQuantizeMatMul (8-bit B, A quantized at run time) and
 * GatherBlockQuantized (n-bit table rows). Registered into {@link OpSchemas}' table.
 */
final class QuantizedOpSchemas {
    private QuantizedOpSchemas() {}


    static void register() {
        OpSchemas.register(OpKey.of(OpKey.MS_DOMAIN, "MatMulNBits"), 3, 6, QuantizedOpSchemas::matMulNBits);
        OpSchemas.register(OpKey.of(OpKey.MS_DOMAIN, "DynamicQuantizeMatMul"), 3, 5, QuantizedOpSchemas::dynamicQuantizeMatMul);
        OpSchemas.register(OpKey.of(OpKey.MS_DOMAIN, "GatherBlockQuantized"), 3, 4, QuantizedOpSchemas::gatherBlockQuantized);
    }

    /** A [..., K] times the n-bit B of attributes K, N: B uint8 [N, k_blocks, block_size·bits/8], scales [N, k_blocks]. */
    private static List<OpSchema.Out> matMulNBits(Node n, int c) {
        Value a = n.input(0);
        long k = requiredLong(n, "K");
        long cols = requiredLong(n, "N");
        long bits = n.longAttr("bits", 4);
        long block = requiredLong(n, "block_size");
        if (!a.dtype().isFloating()) {
            throw new GraphException(n + ": A '" + a.name() + "' must be a float type, not " + a.dtype());
        }
        if (bits < 2 || bits > 8 || block < 16 || Long.bitCount(block) != 1) {
            throw new GraphException(n + ": bits " + bits + " and block_size " + block + " (2..8 bits, a power-of-two block >= 16)");
        }
        long blocks = (k + block - 1) / block;
        requireType(n, 1, DType.UINT8);
        requireDims(n, 1, cols, blocks, block * bits / 8);
        if (n.input(2).dtype() != a.dtype()) {
            throw new GraphException(n + ": scales '" + n.input(2).name() + "' are " + n.input(2).dtype() + ", A is " + a.dtype());
        }
        requireDims(n, 2, cols, blocks);
        if (n.input(3) != null) {
            requireType(n, 3, DType.UINT8);
            requireDims(n, 3, cols, (blocks * bits + 7) / 8);
        }
        if (n.input(5) != null) {
            requireDims(n, 5, cols);
        }
        return List.of(OpSchema.Out.of(a.dtype(), lastDimReplaced(n, a, k, cols)));
    }

    /** float A [..., K] times 8-bit B [K, N] with per-tensor or per-column b_scale / b_zero_point: float [..., N]. */
    private static List<OpSchema.Out> dynamicQuantizeMatMul(Node n, int c) {
        Value a = n.input(0);
        Value b = n.input(1);
        if (a.dtype() != DType.FLOAT) {
            throw new GraphException(n + ": A '" + a.name() + "' must be FLOAT, not " + a.dtype());
        }
        if (b.dtype() != DType.UINT8 && b.dtype() != DType.INT8) {
            throw new GraphException(n + ": B '" + b.name() + "' must be UINT8 or INT8, not " + b.dtype());
        }
        if (!b.shape().isFullyFixed() || b.rank() != 2) {
            throw new GraphException(n + ": B '" + b.name() + "' must be a fixed [K, N] matrix, not " + b.shape());
        }
        long k = b.shape().dim(0).value();
        long cols = b.shape().dim(1).value();
        requireType(n, 2, DType.FLOAT);
        requirePerColumn(n, 2, cols);
        if (n.input(3) != null) {
            requireType(n, 3, b.dtype());
            requirePerColumn(n, 3, cols);
        }
        if (n.input(4) != null) {
            requireType(n, 4, DType.FLOAT);
            requireDims(n, 4, cols);
        }
        return List.of(OpSchema.Out.of(DType.FLOAT, lastDimReplaced(n, a, k, cols)));
    }

    /**
     * Rows of a uint8 table [rows, packed] quantized along its last axis (gather_axis 0): indices.shape +
     * [packed · 8/bits], of the scales' type; scales [rows, blocks], zero points [rows, ceil(blocks · bits/8)].
     */
    private static List<OpSchema.Out> gatherBlockQuantized(Node n, int c) {
        Value data = n.input(0);
        Value idx = n.input(1);
        Value scales = n.input(2);
        requireType(n, 0, DType.UINT8);
        if (idx.dtype() != DType.INT64 && idx.dtype() != DType.INT32) {
            throw new GraphException(n + ": indices '" + idx.name() + "' must be INT64 or INT32, not " + idx.dtype());
        }
        if (!scales.dtype().isFloating()) {
            throw new GraphException(n + ": scales '" + scales.name() + "' must be a float type, not " + scales.dtype());
        }
        if (!data.shape().isFullyFixed() || data.rank() != 2) {
            throw new GraphException(n + ": data '" + data.name() + "' must be a fixed [rows, packed] table, not " + data.shape());
        }
        long bits = n.longAttr("bits", 4);
        long block = n.longAttr("block_size", 128);
        if (n.longAttr("gather_axis", 0) != 0 || n.longAttr("quantize_axis", 1) != 1) {
            throw new GraphException(n + ": a uint8 table is gathered on axis 0 and quantized along its last axis");
        }
        if ((bits != 2 && bits != 4 && bits != 8) || block < 16 || Long.bitCount(block) != 1) {
            throw new GraphException(n + ": bits " + bits + " and block_size " + block + " (2, 4 or 8 bits, a power-of-two block >= 16)");
        }
        long rows = data.shape().dim(0).value();
        long width = data.shape().dim(1).value() * (8 / bits);
        long blocks = (width + block - 1) / block;
        requireDims(n, 2, rows, blocks);
        if (n.input(3) != null) {
            requireType(n, 3, DType.UINT8);
            requireDims(n, 3, rows, (blocks * bits + 7) / 8);
        }
        if (!idx.shape().hasRank()) {
            return List.of(OpSchema.Out.of(scales.dtype(), Shape.UNKNOWN_RANK));
        }
        List<Dim> out = new ArrayList<>(idx.shape().dims());
        out.add(Dim.of(width));
        return List.of(OpSchema.Out.of(scales.dtype(), new Shape(out)));
    }

    private static long requiredLong(Node n, String attr) {
        long v = n.longAttr(attr, -1);
        if (v <= 0) {
            throw new GraphException(n + ": needs a positive '" + attr + "' attribute");
        }
        return v;
    }

    private static void requireType(Node n, int input, DType type) {
        if (n.input(input).dtype() != type) {
            throw new GraphException(n + ": input " + input + " '" + n.input(input).name() + "' must be " + type + ", not "
                    + n.input(input).dtype());
        }
    }

    private static void requireDims(Node n, int input, long... dims) {
        Shape s = n.input(input).shape();
        if (!s.isFullyFixed() || !Arrays.equals(s.fixedDims(), dims)) {
            throw new GraphException("shape mismatch in " + n + ": input " + input + " '" + n.input(input).name() + "' is " + s
                    + ", expected " + Arrays.toString(dims));
        }
    }

    /** A scalar, [1] or [cols] quantization parameter. */
    private static void requirePerColumn(Node n, int input, long cols) {
        Shape s = n.input(input).shape();
        boolean ok = s.isFullyFixed() && (s.rank() == 0 || s.rank() == 1 && (s.dim(0).value() == 1 || s.dim(0).value() == cols));
        if (!ok) {
            throw new GraphException("shape mismatch in " + n + ": input " + input + " '" + n.input(input).name() + "' is " + s
                    + ", expected a scalar, [1] or [" + cols + "]");
        }
    }

    /** A's shape with its last dim (which must be {@code k}) replaced by {@code cols}. */
    private static Shape lastDimReplaced(Node n, Value a, long k, long cols) {
        if (!a.shape().hasRank()) {
            return Shape.UNKNOWN_RANK;
        }
        Dim last = a.shape().dim(-1);
        if (last.isFixed() && last.value() != k) {
            throw new GraphException("shape mismatch in " + n + ": A '" + a.name() + "' " + a.shape() + " does not end in K = " + k);
        }
        List<Dim> out = new ArrayList<>(a.shape().dims().subList(0, a.rank() - 1));
        out.add(Dim.of(cols));
        return new Shape(out);
    }
}
