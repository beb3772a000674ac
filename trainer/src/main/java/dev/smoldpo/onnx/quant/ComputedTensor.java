package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.function.Supplier;

/**
 * An initializer whose bytes are computed from another one only when the model is written (a weight
 * converted to float16, or one part of a quantized weight), so that a pass over a large graph holds
 * no weights itself. Equal only to itself.
 */
final class ComputedTensor implements TensorSource {
    private final DType dtype;
    private final long[] dims;
    private final Supplier<ByteBuffer> bytes;

    ComputedTensor(DType dtype, long[] dims, Supplier<ByteBuffer> bytes) {
        this.dtype = dtype;
        this.dims = dims.clone();
        this.bytes = bytes;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    @Override
    public void writeTo(FileChannel channel, long offset) throws IOException {
        ByteBuffer b = bytes.get().duplicate();
        if (b.remaining() != byteSize()) {
            throw new IOException("computed tensor of " + dtype + java.util.Arrays.toString(dims) + " produced "
                    + b.remaining() + " bytes, expected " + byteSize());
        }
        long at = offset;
        while (b.hasRemaining()) {
            at += channel.write(b, at);
        }
    }

    /** A float source as float16 (round to nearest even). */
    static ComputedTensor float16(String name, TensorSource source) {
        return new ComputedTensor(DType.FLOAT16, source.dims(), () -> {
            float[] v = SourceFloats.read(name, source);
            ByteBuffer out = ByteBuffer.allocate(v.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < v.length; i++) {
                short h = Float.floatToFloat16(v[i]);
                if (Float.isFinite(v[i]) && !Float.isFinite(Float.float16ToFloat(h))) {
                    throw new IllegalStateException("initializer '" + name + "' holds " + v[i] + " (element " + i
                            + "), beyond float16's range");
                }
                out.putShort(h);
            }
            return out.flip();
        });
    }

    static ByteBuffer bytes(byte[] values) {
        return ByteBuffer.wrap(values);
    }

    static ByteBuffer floats(float[] values) {
        ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        out.asFloatBuffer().put(values);
        return out;
    }
}
