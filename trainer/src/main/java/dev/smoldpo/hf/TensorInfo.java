package dev.smoldpo.hf;

import java.util.Arrays;

/**
 * One tensor entry of a safetensors header.
 *
 * @param name tensor name
 * @param dtype dtype string as written in the header (e.g. {@code "BF16"})
 * @param shape dimensions (empty for a scalar)
 * @param begin start of the data, relative to the first byte after the header
 * @param end end (exclusive) of the data, relative to the first byte after the header
 */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Product of the dimensions (1 for a scalar). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteLength() {
        return end - begin;
    }

    public SafetensorsDtype dtypeEnum() {
        return SafetensorsDtype.parse(dtype).orElseThrow();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype.equals(t.dtype)
                && Arrays.equals(shape, t.shape)
                && begin == t.begin
                && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape) + " @[" + begin + "," + end + ")";
    }
}
