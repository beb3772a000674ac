package dev.smoldpo.hf;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A memory-mapped, read-only {@code .safetensors} file.
 *
 * <p>Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object mapping tensor
 * names to {@code {"dtype", "shape", "data_offsets": [begin, end)}} with offsets relative to the
 * first byte after the header, plus an optional {@code "__metadata__"} string map), then the data.
 * The whole file is mapped with {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)}, so
 * files over 2 GB work; nothing is copied until a tensor is read, and reads can stream in chunks.
 *
 * <p>All header validation happens in {@link #open}: header size here, then (in
 * {@link SafetensorsHeader}) JSON shape, dtype names, offsets inside the data area, byte length equal
 * to element count times dtype size, and no overlaps.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted (the reference implementation uses the same bound). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    /** Elements converted per step by the chunked readers. */
    static final int DEFAULT_CHUNK = 1 << 16;

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_DOUBLE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final long headerLength;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final boolean rejectNonFinite;
    /** Tensors read in full with every value checked finite (so {@link #requireFinite} can skip them). */
    private final Set<String> checkedFinite = ConcurrentHashMap.newKeySet();

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, long headerLength,
            Map<String, TensorInfo> tensors, Map<String, String> metadata, boolean rejectNonFinite) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.headerLength = headerLength;
        this.tensors = tensors;
        this.metadata = metadata;
        this.rejectNonFinite = rejectNonFinite;
    }

    /** Receives consecutive chunks of a tensor converted to f32. */
    @FunctionalInterface
    public interface ChunkConsumer {
        /**
         * @param elementOffset index of {@code chunk[0]} within the flattened tensor
         * @param chunk scratch buffer, reused between calls (copy what you keep)
         * @param length number of valid elements in {@code chunk}
         */
        void accept(long elementOffset, float[] chunk, int length) throws IOException;
    }

    /**
     * Opens and validates a safetensors file. Pickle checkpoints and Git LFS pointers are refused
     * with a clear message.
     */
    public static SafetensorsFile open(Path path) throws IOException {
        return open(path, false);
    }

    /**
     * As {@link #open(Path)}, and every value read from the file is checked as it is converted: a NaN
     * or ±Infinity (also an F64 value too large for float32) throws {@link HfFormatException} naming the
     * tensor and the first bad element. The check rides on the reads the caller makes anyway (the
     * export streams each weight once), so it costs no extra pass over the file.
     */
    public static SafetensorsFile openRejectingNonFinite(Path path) throws IOException {
        return open(path, true);
    }

    private static SafetensorsFile open(Path path, boolean rejectNonFinite) throws IOException {
        refuseNonSafetensors(path);
        Arena arena = Arena.ofShared();
        try {
            long size;
            MemorySegment whole;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                size = ch.size();
                if (size < 8) {
                    throw new HfFormatException(path + ": truncated safetensors file: " + size
                            + " bytes, shorter than the 8-byte header length");
                }
                whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            }
            long n = whole.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 0 || n > MAX_HEADER_BYTES) {
                throw new HfFormatException(path + ": header overflow: declared header length "
                        + Long.toUnsignedString(n) + " bytes exceeds the limit of " + MAX_HEADER_BYTES);
            }
            if (n > size - 8) {
                throw new HfFormatException(path + ": header overflow: declared header length " + n
                        + " bytes but only " + (size - 8) + " bytes follow (truncated file?)");
            }
            if (n < 2) {
                throw new HfFormatException(path + ": header too small (" + n + " bytes)");
            }
            byte[] headerBytes = whole.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = whole.asSlice(8 + n);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = SafetensorsHeader.parse(path, headerBytes, data.byteSize(), metadata);
            return new SafetensorsFile(path, arena, data, n, tensors, Collections.unmodifiableMap(metadata),
                    rejectNonFinite);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Refuses files that are not safetensors: pickle / torch zip checkpoints ({@code .bin},
     * {@code .pt}, {@code .pth}, {@code .ckpt}, {@code .pkl}, or content starting with a zip or
     * pickle signature) and Git LFS pointer files. Does nothing for a plausible safetensors file.
     */
    public static void refuseNonSafetensors(Path path) throws IOException {
        String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
        for (String ext : new String[] {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}) {
            if (name.endsWith(ext)) {
                throw pickleRefusal(path, "its extension is " + ext);
            }
        }
        if (!Files.isRegularFile(path)) {
            throw new HfFormatException(path + ": no such safetensors file");
        }
        byte[] head = new byte[32];
        int got;
        try (InputStream in = Files.newInputStream(path)) {
            got = in.readNBytes(head, 0, head.length);
        }
        if (got >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            throw pickleRefusal(path, "it is a zip archive (torch.save format)");
        }
        if (got >= 2 && (head[0] & 0xFF) == 0x80 && head[1] >= 2 && head[1] <= 5) {
            throw pickleRefusal(path, "it starts with a pickle protocol header");
        }
        String start = new String(head, 0, got, StandardCharsets.ISO_8859_1);
        if (start.startsWith("version https://git-lfs")) {
            throw new HfFormatException(path + ": this is a Git LFS pointer file, not the weights: "
                    + "download the real file (git lfs pull / huggingface-cli download)");
        }
    }

    private static HfFormatException pickleRefusal(Path path, String why) {
        return new HfFormatException(path + ": pickle checkpoints (.bin) are not supported (" + why
                + "): convert to safetensors, e.g. model.save_pretrained(dir, safe_serialization=True) "
                + "in Python transformers, and load model.safetensors");
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Header entry of a tensor; throws naming the tensor and file if absent. */
    public TensorInfo info(String name) throws HfFormatException {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new HfFormatException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    public Optional<TensorInfo> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** All header entries in header order. */
    public Map<String, TensorInfo> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    /** The {@code __metadata__} map (empty if absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public long headerLength() {
        return headerLength;
    }

    /** Raw little-endian bytes of a tensor, a zero-copy slice of the mapping (valid until close). */
    public MemorySegment rawBytes(String name) throws HfFormatException {
        TensorInfo t = info(name);
        return data.asSlice(t.begin(), t.byteLength());
    }

    /** Reads a whole tensor converted to f32 (BF16, F16, F32, F64) into a new array. */
    public float[] readFloat32(String name) throws IOException {
        TensorInfo t = info(name);
        long n = t.elementCount();
        if (n > Integer.MAX_VALUE - 16) {
            throw new HfFormatException(path + ": tensor '" + name + "' has " + n
                    + " elements, too many for one float[]: use the chunked readFloat32/forEachChunk");
        }
        float[] out = new float[(int) n];
        convert(t, 0, out, 0, (int) n);
        markChecked(t);
        return out;
    }

    /**
     * Reads a whole tensor converted to f32 into {@code dst} starting at {@code dstOffset}, without
     * allocating a tensor-sized array.
     */
    public void readFloat32(String name, float[] dst, int dstOffset) throws IOException {
        TensorInfo t = info(name);
        long n = t.elementCount();
        if (dstOffset < 0 || n > dst.length - (long) dstOffset) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + n
                    + " elements; destination has " + (dst.length - (long) dstOffset) + " from offset " + dstOffset);
        }
        convert(t, 0, dst, dstOffset, (int) n);
        markChecked(t);
    }

    /**
     * Reads a whole tensor converted to f32 into {@code dst} at its position (advancing it), in
     * chunks through a small scratch array: heap or direct buffers both work.
     */
    public void readFloat32(String name, FloatBuffer dst) throws IOException {
        TensorInfo t = info(name);
        long n = t.elementCount();
        if (n > dst.remaining()) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + n
                    + " elements; destination buffer has " + dst.remaining() + " remaining");
        }
        forEachChunk(name, DEFAULT_CHUNK, (off, chunk, len) -> dst.put(chunk, 0, len));
    }

    /**
     * Reads a whole tensor converted to f32 into a native-order f32 memory segment (for example an
     * off-heap buffer handed to ONNX Runtime) at byte offset {@code dstByteOffset}.
     */
    public void readFloat32(String name, MemorySegment dst, long dstByteOffset) throws IOException {
        TensorInfo t = info(name);
        long n = t.elementCount();
        if (dstByteOffset < 0 || n * 4 > dst.byteSize() - dstByteOffset) {
            throw new IllegalArgumentException("tensor '" + name + "' needs " + n * 4
                    + " bytes; destination segment has " + (dst.byteSize() - dstByteOffset) + " from offset");
        }
        forEachChunk(name, DEFAULT_CHUNK, (off, chunk, len) -> MemorySegment.copy(
                chunk, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, dstByteOffset + off * 4, len));
    }

    /**
     * Streams a tensor as consecutive f32 chunks of at most {@code chunkElements} elements, reusing
     * one scratch array, so arbitrarily large tensors need only O(chunk) heap.
     */
    public void forEachChunk(String name, int chunkElements, ChunkConsumer consumer) throws IOException {
        if (chunkElements <= 0) {
            throw new IllegalArgumentException("chunkElements must be positive");
        }
        TensorInfo t = info(name);
        long n = t.elementCount();
        requireFloat(t);
        float[] scratch = new float[(int) Math.min(chunkElements, Math.max(n, 1))];
        for (long start = 0; start < n; start += scratch.length) {
            int len = (int) Math.min(scratch.length, n - start);
            convert(t, start, scratch, 0, len);
            consumer.accept(start, scratch, len);
        }
        markChecked(t);
    }

    private void markChecked(TensorInfo t) {
        if (rejectNonFinite) {
            checkedFinite.add(t.name());
        }
    }

    /**
     * Throws {@link HfFormatException} naming the tensor and element when {@code name} holds a NaN or
     * ±Infinity. A tensor already read in full from a file opened with
     * {@link #openRejectingNonFinite} is not read again.
     */
    public void requireFinite(String name) throws IOException {
        TensorInfo t = info(name);
        if (checkedFinite.contains(name)) {
            return;
        }
        forEachChunk(name, DEFAULT_CHUNK, (offset, chunk, length) -> {
            if (!rejectNonFinite) { // else the read itself checks
                NonFiniteWeights.require(path, t, chunk, 0, length, offset);
            }
        });
        checkedFinite.add(name);
    }

    private void requireFloat(TensorInfo t) throws HfFormatException {
        if (!t.dtypeEnum().convertibleToFloat32()) {
            throw new HfFormatException(path + ": tensor '" + t.name() + "' has dtype " + t.dtype()
                    + ", which cannot be read as float32 (supported: BF16, F16, F32, F64)");
        }
    }

    /**
     * Converts {@code len} elements starting at element {@code from} of tensor {@code t}, one block of
     * {@link #DEFAULT_CHUNK} at a time, each checked while it is still in cache when non-finite values
     * are rejected.
     */
    private void convert(TensorInfo t, long from, float[] dst, int dstOff, int len) throws HfFormatException {
        requireFloat(t);
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(path + " is closed");
        }
        short[] halves = null;
        for (int done = 0; done < len; ) {
            int k = Math.min(DEFAULT_CHUNK, len - done);
            if (t.dtypeEnum().byteSize() == 2 && halves == null) {
                halves = new short[Math.min(len, DEFAULT_CHUNK)];
            }
            convertBlock(t, from + done, dst, dstOff + done, k, halves);
            if (rejectNonFinite) {
                NonFiniteWeights.require(path, t, dst, dstOff + done, k, from + done);
            }
            done += k;
        }
    }

    /** Converts {@code len} elements (at most one block; {@code halves} holds them for BF16/F16). */
    private void convertBlock(TensorInfo t, long from, float[] dst, int dstOff, int len, short[] halves) {
        SafetensorsDtype d = t.dtypeEnum();
        long base = t.begin() + from * d.byteSize();
        switch (d) {
            case F32 -> MemorySegment.copy(data, LE_FLOAT, base, dst, dstOff, len);
            case BF16 -> {
                MemorySegment.copy(data, LE_SHORT, base, halves, 0, len);
                for (int i = 0; i < len; i++) {
                    dst[dstOff + i] = Bf16.toFloat(halves[i]);
                }
            }
            case F16 -> {
                MemorySegment.copy(data, LE_SHORT, base, halves, 0, len);
                for (int i = 0; i < len; i++) {
                    dst[dstOff + i] = Float.float16ToFloat(halves[i]);
                }
            }
            case F64 -> {
                for (int i = 0; i < len; i++) {
                    dst[dstOff + i] = (float) data.get(LE_DOUBLE, base + 8L * i);
                }
            }
            default -> throw new AssertionError(d);
        }
    }

    /** Unmaps the file; tensors can no longer be read and raw slices become invalid. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
