package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.Bf16;
import dev.smoldpo.hf.HfFormatException;
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
 * memory-mapped safetensors file and converted to the requested type (FLOAT, BFLOAT16 or FLOAT16,
 * rounding to nearest even) only while the external-data file is written, so an export never holds
 * the whole model on the heap. A bf16 checkpoint converts to BFLOAT16 bit for bit.
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
    public TensorSource asIs(String name, DType dtype) {
        return new AsIs(file, name, info(name).shape(), requireSupported(dtype));
    }

    /**
     * A linear weight [out, in] (or a conv weight [out, c, kh, kw], flattened to [out, c·kh·kw])
     * transposed to [in, out], so that {@code x @ W^T} is a plain MatMul.
     */
    @Override
    public TensorSource transposed(String name, DType dtype) {
        long[] shape = info(name).shape();
        long out = shape[0];
        long in = 1;
        for (int i = 1; i < shape.length; i++) {
            in *= shape[i];
        }
        return new Transposed(file, name, out, in, requireSupported(dtype));
    }

    private static DType requireSupported(DType dtype) {
        if (dtype != DType.FLOAT && dtype != DType.BFLOAT16 && dtype != DType.FLOAT16) {
            throw new IllegalArgumentException("frozen weights are written as FLOAT, BFLOAT16 or FLOAT16, not " + dtype);
        }
        return dtype;
    }

    private TensorInfo info(String name) {
        try {
            return file.info(name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stored tensor, converted to {@code dtype}. */
    record AsIs(SafetensorsFile file, String name, long[] storedDims, DType dtype) implements TensorSource {
        @Override
        public long[] dims() {
            return storedDims.clone();
        }

        @Override
        public void writeTo(FileChannel channel, long offset) throws IOException {
            long[] at = {offset};
            file.forEachChunk(name, 1 << 16, (elementOffset, chunk, length) -> {
                ByteBuffer bytes = ByteBuffer.allocate(length * dtype.byteSize).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < length; i++) {
                    put(bytes, dtype, chunk[i], file, name, elementOffset + i);
                }
                bytes.flip();
                while (bytes.hasRemaining()) {
                    at[0] += channel.write(bytes, at[0]);
                }
            });
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof AsIs other && other.file == file && other.name.equals(name) && other.dtype == dtype;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + dtype.hashCode();
        }
    }

    /** [out, in] → [in, out] in {@code dtype}; one tensor in memory at a time. */
    record Transposed(SafetensorsFile file, String name, long out, long in, DType dtype) implements TensorSource {
        @Override
        public long[] dims() {
            return new long[] {in, out};
        }

        @Override
        public void writeTo(FileChannel channel, long offset) throws IOException {
            writeTransposed(channel, offset, file.readFloat32(name), Math.toIntExact(out), Math.toIntExact(in), dtype,
                    file, name);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Transposed other && other.file == file && other.name.equals(name) && other.dtype == dtype;
        }

        @Override
        public int hashCode() {
            return (name.hashCode() * 31 + 1) * 31 + dtype.hashCode();
        }
    }

    /**
     * Writes the row-major [rows, cols] float32 matrix {@code w} transposed ([cols, rows], float32 LE) at
     * {@code offset}, one output row at a time to keep the extra buffer small.
     */
    static void writeTransposed(FileChannel channel, long offset, float[] w, int rows, int cols) throws IOException {
        writeTransposed(channel, offset, w, rows, cols, DType.FLOAT, null, "merged weight");
    }

    /** As above, each element converted to {@code dtype} (little-endian) as it is written. */
    private static void writeTransposed(FileChannel channel, long offset, float[] w, int rows, int cols, DType dtype,
                                        SafetensorsFile file, String name) throws IOException {
        ByteBuffer row = ByteBuffer.allocate(rows * dtype.byteSize).order(ByteOrder.LITTLE_ENDIAN);
        long at = offset;
        for (int c = 0; c < cols; c++) {
            row.clear();
            for (int r = 0; r < rows; r++) {
                put(row, dtype, w[r * cols + c], file, name, (long) r * cols + c);
            }
            row.flip();
            while (row.hasRemaining()) {
                at += channel.write(row, at);
            }
        }
    }

    /**
     * Appends {@code v} as {@code dtype}. FLOAT16 holds at most ±65504: a weight beyond that would
     * become an infinity in the graph, so it is an error naming the tensor and element instead.
     */
    private static void put(ByteBuffer bytes, DType dtype, float v, SafetensorsFile file, String name, long element)
            throws HfFormatException {
        switch (dtype) {
            case FLOAT -> bytes.putFloat(v);
            case BFLOAT16 -> bytes.putShort(Bf16.fromFloat(v));
            case FLOAT16 -> {
                short half = Float.floatToFloat16(v);
                if (Float.isInfinite(Float.float16ToFloat(half)) && !Float.isInfinite(v)) {
                    throw new HfFormatException((file == null ? "" : file.path() + ": ") + "tensor '" + name + "' element "
                            + element + " = " + v + " is outside float16's range (±65504); export with --precision bf16 or fp32");
                }
                bytes.putShort(half);
            }
            default -> throw new IllegalArgumentException("frozen weights are not written as " + dtype);
        }
    }
}
