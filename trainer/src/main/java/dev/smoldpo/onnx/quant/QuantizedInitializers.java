package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorSource;

/**
 * The initializers of one quantized weight, in the layouts of ORT's com.microsoft ops
 * (docs/ContribOperators.md), each computed from the float weight when the model is written.
 */
final class QuantizedInitializers {
    private QuantizedInitializers() {}

    /** A quantized weight's packed values, scales and zero points. */
    record Parts(TensorSource values, TensorSource scales, TensorSource zeroPoints) {}

    /**
     * MatMulNBits' B of a [K, N] weight (x @ W): B uint8 [N, k_blocks, blockSize · bits / 8], each output
     * column quantized along K; scales [N, k_blocks]; zero points uint8 [N, ceil(k_blocks · bits / 8)].
     */
    static Parts matMulNBits(String name, TensorSource weight, int bits, int blockSize, boolean halfScales) {
        long[] dims = weight.dims();
        int k = Math.toIntExact(dims[0]);
        int n = Math.toIntExact(dims[1]);
        int blocks = (k + blockSize - 1) / blockSize;
        SharedResult<BlockQuantizer.Blocks> q = new SharedResult<>(() -> BlockQuantizer.quantize(
                SourceFloats.read(name, weight), n, k, 1, n, bits, blockSize, halfScales), 3);
        return new Parts(
                new ComputedTensor(DType.UINT8, new long[] {n, blocks, (long) blockSize * bits / 8},
                        () -> ComputedTensor.bytes(q.get().packedValues())),
                new ComputedTensor(DType.FLOAT, new long[] {n, blocks}, () -> ComputedTensor.floats(q.get().scales())),
                new ComputedTensor(DType.UINT8, new long[] {n, (blocks * bits + 7) / 8},
                        () -> ComputedTensor.bytes(q.get().packedZeroPoints())));
    }

    /**
     * DynamicQuantizeMatMul's B of a [K, N] weight: uint8 [K, N] (the weight's own layout), each output
     * column quantized as one block over K; scale float [N]; zero point uint8 [N].
     */
    static Parts perColumn8Bit(String name, TensorSource weight) {
        long[] dims = weight.dims();
        int k = Math.toIntExact(dims[0]);
        int n = Math.toIntExact(dims[1]);
        SharedResult<BlockQuantizer.Blocks> q = new SharedResult<>(() -> BlockQuantizer.quantize(
                SourceFloats.read(name, weight), n, k, 1, n, 8, k, false), 3);
        return new Parts(
                new ComputedTensor(DType.UINT8, new long[] {k, n}, () -> {
                    byte[] columns = q.get().q(); // [N, K]
                    byte[] kn = new byte[columns.length];
                    for (int c = 0; c < n; c++) {
                        for (int r = 0; r < k; r++) {
                            kn[r * n + c] = columns[c * k + r];
                        }
                    }
                    return ComputedTensor.bytes(kn);
                }),
                new ComputedTensor(DType.FLOAT, new long[] {n}, () -> ComputedTensor.floats(q.get().scales())),
                new ComputedTensor(DType.UINT8, new long[] {n}, () -> ComputedTensor.bytes(q.get().zeroPoints())));
    }

    /**
     * GatherBlockQuantized's data of a [rows, width] table, quantized along each row: uint8
     * [rows, width · bits / 8]; scales [rows, width / blockSize]; zero points uint8
     * [rows, ceil(blocks · bits / 8)]. The width must be a multiple of the block size.
     */
    static Parts gatherTable(String name, TensorSource table, int bits, int blockSize, boolean halfScales) {
        long[] dims = table.dims();
        int rows = Math.toIntExact(dims[0]);
        int width = Math.toIntExact(dims[1]);
        if (width % blockSize != 0) {
            throw new IllegalArgumentException("table '" + name + "' is " + width + " wide, not a multiple of the block size "
                    + blockSize);
        }
        int blocks = width / blockSize;
        SharedResult<BlockQuantizer.Blocks> q = new SharedResult<>(() -> BlockQuantizer.quantize(
                SourceFloats.read(name, table), rows, width, width, 1, bits, blockSize, halfScales), 3);
        return new Parts(
                new ComputedTensor(DType.UINT8, new long[] {rows, (long) width * bits / 8},
                        () -> ComputedTensor.bytes(q.get().packedValues())),
                new ComputedTensor(DType.FLOAT, new long[] {rows, blocks}, () -> ComputedTensor.floats(q.get().scales())),
                new ComputedTensor(DType.UINT8, new long[] {rows, (blocks * bits + 7) / 8},
                        () -> ComputedTensor.bytes(q.get().packedZeroPoints())));
    }
}
