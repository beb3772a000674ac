package dev.smoldpo.onnx;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * One ONNX external-data file that several models share: each initializer is written once, the
 * first time any model references it, and every model points at the same offset. Tensors smaller
 * than {@link #INLINE_LIMIT} stay inline in the model.
 */
public final class SharedWeights implements AutoCloseable {
    /** Small constants (shapes, axes, scalars) are cheaper inline than as a file reference. */
    public static final int INLINE_LIMIT = 1024;
    private static final int ALIGNMENT = 64;

    /** Where a tensor lives inside the file. */
    public record Location(String file, long offset, long length) {}

    private final Path path;
    private final FileChannel channel;
    private final Map<String, Location> written = new HashMap<>();
    private final Map<String, TensorSource> contents = new HashMap<>();
    private long position;

    public SharedWeights(Path path) {
        this.path = path;
        try {
            this.channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create weights file " + path, e);
        }
    }

    public Path path() {
        return path;
    }

    boolean shouldStoreExternally(TensorSource data) {
        return !(data instanceof TensorData) || data.byteSize() >= INLINE_LIMIT;
    }

    /**
     * Writes {@code data} under {@code name} unless it is there already (each graph may rebuild its
     * frozen weights; the same name must then carry the same bytes); returns where it is.
     */
    synchronized Location place(String name, TensorSource data) {
        Location existing = written.get(name);
        if (existing != null) {
            TensorSource previous = contents.get(name);
            if (!sameContents(previous, data)) {
                throw new GraphException("two different tensors named '" + name + "' in shared weights " + path);
            }
            return existing;
        }
        try {
            long offset = (position + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
            long length = data.byteSize();
            data.writeTo(channel, offset);
            position = offset + length;
            Location location = new Location(path.getFileName().toString(), offset, length);
            written.put(name, location);
            contents.put(name, data);
            return location;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write weights to " + path, e);
        }
    }

    private static boolean sameContents(TensorSource a, TensorSource b) {
        if (a == b || a.equals(b) && !(a instanceof TensorData)) {
            return true;
        }
        return a instanceof TensorData x && b instanceof TensorData y && x.dtype() == y.dtype()
                && java.util.Arrays.equals(x.dims(), y.dims()) && x.raw().equals(y.raw());
    }

    public long size() {
        return position;
    }

    @Override
    public void close() {
        try {
            channel.force(false);
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
