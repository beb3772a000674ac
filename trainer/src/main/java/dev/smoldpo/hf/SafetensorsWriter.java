package dev.smoldpo.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes f32 values as a {@code .safetensors} file in F32, BF16 (round to nearest even) or F16
 * (round to nearest even), with {@code __metadata__ {"format": "pt"}} by default. Tensors are laid
 * out in name order, the header is space-padded to a multiple of 8 bytes, and the file is written to
 * a temporary file in the same directory and renamed into place.
 */
public final class SafetensorsWriter {
    /** One tensor to write: values are row-major f32 and converted to {@code dtype}. */
    public record Tensor(SafetensorsDtype dtype, long[] shape, float[] values) {
        public Tensor {
            if (dtype != SafetensorsDtype.F32 && dtype != SafetensorsDtype.BF16 && dtype != SafetensorsDtype.F16) {
                throw new IllegalArgumentException("can only write F32, BF16 or F16, not " + dtype);
            }
            shape = shape.clone();
            long n = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
                }
                n = Math.multiplyExact(n, d);
            }
            if (n != values.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n
                        + " elements but " + values.length + " values were given");
            }
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor to write whose values are produced only while the file is written (one at a time). */
    private record Pending(SafetensorsDtype dtype, long[] shape, long count, java.util.function.Supplier<float[]> values) {}

    private final Map<String, Pending> tensors = new TreeMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter() {
        metadata.put("format", "pt");
    }

    public SafetensorsWriter add(String name, SafetensorsDtype dtype, long[] shape, float[] values) {
        if (name.equals("__metadata__")) {
            throw new IllegalArgumentException("'__metadata__' is reserved");
        }
        Tensor t = new Tensor(dtype, shape, values);
        return addPending(name, new Pending(t.dtype(), t.shape(), values.length, t::values));
    }

    /**
     * Adds a tensor whose values {@code generator} produces when the file is written, so a large
     * checkpoint (e.g. random weights at SmolVLM-256M's shapes in tests) never sits whole on the heap.
     */
    public SafetensorsWriter addGenerated(String name, SafetensorsDtype dtype, long[] shape,
                                          java.util.function.Supplier<float[]> generator) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        new Tensor(dtype, new long[] {0}, new float[0]); // validates the dtype
        return addPending(name, new Pending(dtype, shape.clone(), n, generator));
    }

    private SafetensorsWriter addPending(String name, Pending pending) {
        if (name.equals("__metadata__")) {
            throw new IllegalArgumentException("'__metadata__' is reserved");
        }
        if (tensors.putIfAbsent(name, pending) != null) {
            throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        }
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Convenience: writes {@code tensors} with the default metadata. */
    public static void write(Path path, Map<String, Tensor> tensors) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        tensors.forEach((k, t) -> w.add(k, t.dtype(), t.shape(), t.values()));
        w.write(path);
    }

    /** Writes the file atomically (temporary file + rename). */
    public void write(Path path) throws IOException {
        Path abs = path.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Pending> e : tensors.entrySet()) {
            Pending t = e.getValue();
            ObjectNode o = header.putObject(e.getKey());
            o.put("dtype", t.dtype().name());
            ArrayNode shape = o.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long len = t.count() * t.dtype().byteSize();
            o.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, head);
                ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (Map.Entry<String, Pending> e : tensors.entrySet()) {
                    Pending t = e.getValue();
                    float[] values = t.values().get();
                    if (values.length != t.count()) {
                        throw new IllegalStateException("tensor '" + e.getKey() + "': generator gave " + values.length
                                + " values for shape " + Arrays.toString(t.shape()));
                    }
                    for (float v : values) {
                        if (buf.remaining() < 4) {
                            buf.flip();
                            writeFully(ch, buf);
                            buf.clear();
                        }
                        switch (t.dtype()) {
                            case F32 -> buf.putFloat(v);
                            case BF16 -> buf.putShort(Bf16.fromFloat(v));
                            case F16 -> buf.putShort(Float.floatToFloat16(v));
                            default -> throw new AssertionError(t.dtype());
                        }
                    }
                }
                buf.flip();
                writeFully(ch, buf);
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

}
