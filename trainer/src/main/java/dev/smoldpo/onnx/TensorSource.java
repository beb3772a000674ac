package dev.smoldpo.onnx;

import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * The contents of an initializer, produced when the model is written rather than held in memory:
 * frozen weights of a large checkpoint stream from the memory-mapped source into the external-data
 * file one tensor at a time. Two sources with the same name must be {@code equals} when they hold
 * the same bytes (records over the same file and tensor are).
 */
public interface TensorSource {
    DType dtype();

    long[] dims();

    /** Writes the little-endian bytes of the tensor to {@code channel} starting at {@code offset}. */
    void writeTo(FileChannel channel, long offset) throws IOException;

    default long byteSize() {
        long n = dtype().byteSize;
        for (long d : dims()) {
            n *= d;
        }
        return n;
    }

    default Shape shape() {
        return Shape.fixed(dims());
    }
}
