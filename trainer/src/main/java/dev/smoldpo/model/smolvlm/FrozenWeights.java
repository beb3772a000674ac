package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.TensorInfo;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/**
 * The frozen base weights of a checkpoint as streamed initializers: each tensor is read from the
 * memory-mapped safetensors file and converted to float32 only while the external-data file is
 * written, so an export never holds the whole model on the heap.
 */
public final class FrozenWeights implements WeightSource {
    private final SafetensorsFile file;

    public FrozenWeights(SafetensorsFile file) {
        this.file = file;
    }

    public SafetensorsFile file() {
        return file;
    }

    @Override
    public TensorSource asIs(String name) {
        return new AsIs(file, name, info(name).shape());
    }

    /**
     * A linear weight [out, in] (or a conv weight [out, c, kh, kw], flattened to [out, c·kh·kw])
     * transposed to [in, out], so that {@code x @ W^T} is a plain MatMul.
     */
    @Override
    public TensorSource transposed(String name) {
        long[] shape = info(name).shape();
        long out = shape[0];
        long in = 1;
        for (int i = 1; i < shape.length; i++) {
            in *= shape[i];
        }
        return new Transposed(file, name, out, in);
    }

    private TensorInfo info(String name) {
        try {
            return file.info(name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stored tensor, converted to float32. */
    record AsIs(SafetensorsFile file, String name, long[] storedDims) implements TensorSource {
        @Override
        public DType dtype() {
            return DType.FLOAT;
        }

        @Override
        public long[] dims() {
            return storedDims.clone();
        }

        @Override
        public void writeTo(FileChannel channel, long offset) throws IOException {
            long[] at = {offset};
            file.forEachChunk(name, 1 << 16, (elementOffset, chunk, length) -> {
                ByteBuffer bytes = ByteBuffer.allocate(length * 4).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(chunk, 0, length);
                while (bytes.hasRemaining()) {
                    at[0] += channel.write(bytes, at[0]);
                }
            });
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof AsIs other && other.file == file && other.name.equals(name);
        }

        @Override
        public int hashCode() {
            return name.hashCode();
        }
    }

    /** [out, in] → [in, out] in float32; one tensor in memory at a time. */
    record Transposed(SafetensorsFile file, String name, long out, long in) implements TensorSource {
        @Override
        public DType dtype() {
            return DType.FLOAT;
        }

        @Override
        public long[] dims() {
            return new long[] {in, out};
        }

        @Override
        public void writeTo(FileChannel channel, long offset) throws IOException {
            writeTransposed(channel, offset, file.readFloat32(name), Math.toIntExact(out), Math.toIntExact(in));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Transposed other && other.file == file && other.name.equals(name);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + 1;
        }
    }

    /**
     * Writes the row-major [rows, cols] matrix {@code w} transposed ([cols, rows], float32 LE) at
     * {@code offset}, one output row at a time to keep the extra buffer small.
     */
    static void writeTransposed(FileChannel channel, long offset, float[] w, int rows, int cols) throws IOException {
        ByteBuffer row = ByteBuffer.allocate(rows * 4).order(ByteOrder.LITTLE_ENDIAN);
        long at = offset;
        for (int c = 0; c < cols; c++) {
            row.clear();
            for (int r = 0; r < rows; r++) {
                row.putFloat(w[r * cols + c]);
            }
            row.flip();
            while (row.hasRemaining()) {
                at += channel.write(row, at);
            }
        }
    }
}
