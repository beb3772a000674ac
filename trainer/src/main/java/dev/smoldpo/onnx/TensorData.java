package dev.smoldpo.onnx;

import dev.smoldpo.hf.Bf16;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The contents of a constant tensor: element type, fixed dims and little-endian raw bytes. Large
 * weights may be backed by a memory-mapped buffer; nothing here copies them.
 */
public record TensorData(DType dtype, long[] dims, ByteBuffer raw) implements TensorSource {
    public TensorData {
        dims = dims.clone();
        long count = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dim in " + Arrays.toString(dims));
            }
            count *= d;
        }
        if (raw.remaining() != count * dtype.byteSize) {
            throw new IllegalArgumentException("tensor of " + dtype + Arrays.toString(dims) + " needs "
                    + count * dtype.byteSize + " bytes, got " + raw.remaining());
        }
        raw = raw.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void writeTo(java.nio.channels.FileChannel channel, long offset) throws java.io.IOException {
        ByteBuffer bytes = raw.duplicate();
        long at = offset;
        while (bytes.hasRemaining()) {
            at += channel.write(bytes, at);
        }
    }

    public long elementCount() {
        return raw.remaining() / dtype.byteSize;
    }

    @Override
    public Shape shape() {
        return Shape.fixed(dims);
    }

    public static TensorData floats(long[] dims, float... values) {
        ByteBuffer b = allocate(values.length * 4L);
        b.asFloatBuffer().put(values);
        return new TensorData(DType.FLOAT, dims, b);
    }

    public static TensorData doubles(long[] dims, double... values) {
        ByteBuffer b = allocate(values.length * 8L);
        b.asDoubleBuffer().put(values);
        return new TensorData(DType.DOUBLE, dims, b);
    }

    public static TensorData longs(long[] dims, long... values) {
        ByteBuffer b = allocate(values.length * 8L);
        b.asLongBuffer().put(values);
        return new TensorData(DType.INT64, dims, b);
    }

    public static TensorData bools(long[] dims, boolean... values) {
        ByteBuffer b = allocate(values.length);
        for (boolean v : values) {
            b.put((byte) (v ? 1 : 0));
        }
        b.flip();
        return new TensorData(DType.BOOL, dims, b);
    }

    /**
     * A scalar constant of {@code dtype} (FLOAT, DOUBLE, BFLOAT16, FLOAT16 or INT64), the common case for
     * graph constants. The half-precision types round to nearest even; a value a FLOAT16 cannot hold
     * (beyond ±65504) is an error, not an infinity in the graph.
     */
    public static TensorData scalar(DType dtype, double value) {
        return switch (dtype) {
            case FLOAT -> floats(new long[0], (float) value);
            case DOUBLE -> doubles(new long[0], value);
            case INT64 -> longs(new long[0], (long) value);
            case BFLOAT16 -> halves(DType.BFLOAT16, new long[0], Bf16.fromFloat((float) value));
            case FLOAT16 -> {
                short bits = Float.floatToFloat16((float) value);
                if (Float.isInfinite(Float.float16ToFloat(bits)) && !Double.isInfinite(value)) {
                    throw new IllegalArgumentException("the constant " + value + " is outside FLOAT16's range (±65504)");
                }
                yield halves(DType.FLOAT16, new long[0], bits);
            }
            default -> throw new IllegalArgumentException("no scalar constants of " + dtype);
        };
    }

    /** A BFLOAT16 or FLOAT16 tensor from the 16-bit patterns of its elements. */
    public static TensorData halves(DType dtype, long[] dims, short... bits) {
        if (dtype.byteSize != 2 || !dtype.isFloating()) {
            throw new IllegalArgumentException("not a 16-bit floating type: " + dtype);
        }
        ByteBuffer b = allocate(bits.length * 2L);
        b.asShortBuffer().put(bits);
        return new TensorData(dtype, dims, b);
    }

    /** The same bytes viewed with other dims (same element count), e.g. a scalar as shape [1]. */
    public TensorData withDims(long... newDims) {
        return new TensorData(dtype, newDims, raw.duplicate());
    }

    public long[] toLongArray() {
        if (dtype != DType.INT64) {
            throw new IllegalStateException("not INT64: " + dtype);
        }
        long[] out = new long[(int) elementCount()];
        raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    public float[] toFloatArray() {
        if (dtype != DType.FLOAT) {
            throw new IllegalStateException("not FLOAT: " + dtype);
        }
        float[] out = new float[(int) elementCount()];
        raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    /** The elements of a FLOAT, BFLOAT16 or FLOAT16 tensor widened (exactly) to float. */
    public float[] widenToFloats() {
        if (dtype == DType.FLOAT) {
            return toFloatArray();
        }
        if (dtype != DType.BFLOAT16 && dtype != DType.FLOAT16) {
            throw new IllegalStateException("not a float type: " + dtype);
        }
        short[] bits = new short[(int) elementCount()];
        raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(bits);
        float[] out = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            out[i] = dtype == DType.BFLOAT16 ? Bf16.toFloat(bits[i]) : Float.float16ToFloat(bits[i]);
        }
        return out;
    }

    private static ByteBuffer allocate(long bytes) {
        return ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
    }
}
