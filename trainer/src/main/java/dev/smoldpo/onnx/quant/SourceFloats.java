package dev.smoldpo.onnx.quant;

import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The values of an initializer as floats. Streamed initializers ({@link TensorSource}s that are
 * not in memory, e.g. merged LoRA weights) only know how to write themselves to a file, so they are
 * written to a temporary file and read back: one weight at a time is ever held.
 */
final class SourceFloats {
    private SourceFloats() {}

    static float[] read(String name, TensorSource source) {
        if (source.dtype() != DType.FLOAT && source.dtype() != DType.FLOAT16) {
            throw new IllegalArgumentException("initializer '" + name + "' is " + source.dtype() + ", not a float tensor");
        }
        long count = source.byteSize() / source.dtype().byteSize;
        if (count > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("initializer '" + name + "' has " + count + " values, too many for one array");
        }
        if (source instanceof TensorData data) {
            return decode(data.raw().duplicate().order(ByteOrder.LITTLE_ENDIAN), source.dtype(), (int) count);
        }
        Path tmp = null;
        try {
            tmp = Files.createTempFile("smoldpo-weight-", ".bin");
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                source.writeTo(channel, 0);
                MappedByteBuffer bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, source.byteSize());
                return decode(bytes.order(ByteOrder.LITTLE_ENDIAN), source.dtype(), (int) count);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the values of initializer '" + name + "'", e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a temporary file
                }
            }
        }
    }

    private static float[] decode(ByteBuffer bytes, DType dtype, int count) {
        float[] out = new float[count];
        if (dtype == DType.FLOAT) {
            bytes.asFloatBuffer().get(out);
        } else {
            for (int i = 0; i < count; i++) {
                out[i] = Float.float16ToFloat(bytes.getShort(i * 2));
            }
        }
        return out;
    }
}
