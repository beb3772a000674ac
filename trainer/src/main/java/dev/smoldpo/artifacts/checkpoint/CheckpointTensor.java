package dev.smoldpo.artifacts.checkpoint;

import dev.smoldpo.onnx.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor of a checkpoint: a parameter or an optimizer moment. The bytes are the
 * little-endian element data in row-major order; their count must match {@code dims} and {@code dtype}.
 *
 * <p>Tensors read from a file may be views of the memory-mapped file; nothing here copies them.
 * {@link #equals} compares names, types, dims and the bytes themselves.
 */
public record CheckpointTensor(String name, long[] dims, DType dtype, ByteBuffer rawLittleEndian) {
    public CheckpointTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dims, "dims");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(rawLittleEndian, "rawLittleEndian");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("checkpoint tensor without a name");
        }
        dims = dims.clone();
        long expected = byteCount(name, dims, dtype);
        if (rawLittleEndian.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + dtype + Arrays.toString(dims) + " needs "
                    + expected + " bytes, got " + rawLittleEndian.remaining());
        }
        rawLittleEndian = rawLittleEndian.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A FLOAT tensor holding a copy of {@code values}. */
    public static CheckpointTensor ofFloats(String name, long[] dims, float... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new CheckpointTensor(name, dims, DType.FLOAT, b);
    }

    /** The number of bytes a tensor of these dims and type holds; throws on negative dims or overflow. */
    static long byteCount(String name, long[] dims, DType dtype) {
        long count = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dim: " + Arrays.toString(dims));
            }
            count = Math.multiplyExact(count, d);
        }
        return Math.multiplyExact(count, (long) dtype.byteSize);
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** A read-only view of the bytes, positioned at 0, little-endian. */
    @Override
    public ByteBuffer rawLittleEndian() {
        return rawLittleEndian.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    public long elementCount() {
        return rawLittleEndian.remaining() / dtype.byteSize;
    }

    public long byteSize() {
        return rawLittleEndian.remaining();
    }

    /** The elements of a FLOAT tensor, copied. */
    public float[] toFloatArray() {
        if (dtype != DType.FLOAT) {
            throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not FLOAT");
        }
        float[] out = new float[Math.toIntExact(elementCount())];
        rawLittleEndian().asFloatBuffer().get(out);
        return out;
    }

    /** The same data under another name. */
    public CheckpointTensor withName(String newName) {
        return new CheckpointTensor(newName, dims, dtype, rawLittleEndian);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CheckpointTensor t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(dims, t.dims) && rawLittleEndian.equals(t.rawLittleEndian);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(dims), rawLittleEndian);
    }

    @Override
    public String toString() {
        return "CheckpointTensor[" + name + " " + dtype + Arrays.toString(dims) + "]";
    }
}
