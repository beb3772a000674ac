package dev.smoldpo.nativelib;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * Output of {@link ImagePreprocessor#preprocess}: native memory that lives as long as its arena
 * (closed by {@link #close()} when the result owns it).
 *
 * <p>{@code pixelValues}: float32 [totalTiles, 3, canvasHeight, canvasWidth], each image's tiles
 * row-major then its global image; canvasHeight = canvasWidth = the tile size in both modes (without
 * splitting each image is resized to one tile-size square, as transformers does). {@code pixelMask}:
 * bytes [totalTiles, canvasHeight, canvasWidth], 1 on real pixels, which is all of them.
 */
public final class PreprocessResult implements AutoCloseable {
    private final Arena ownedArena;
    private final MemorySegment pixelValues;
    private final MemorySegment pixelMask;
    private final List<ImageGrid> grids;
    private final long totalTiles;
    private final int canvasHeight;
    private final int canvasWidth;

    PreprocessResult(Arena ownedArena, MemorySegment pixelValues, MemorySegment pixelMask, List<ImageGrid> grids,
                     long totalTiles, int canvasHeight, int canvasWidth) {
        this.ownedArena = ownedArena;
        this.pixelValues = pixelValues;
        this.pixelMask = pixelMask;
        this.grids = List.copyOf(grids);
        this.totalTiles = totalTiles;
        this.canvasHeight = canvasHeight;
        this.canvasWidth = canvasWidth;
    }

    /** float32 [totalTiles, 3, canvasHeight, canvasWidth] in native byte order. */
    public MemorySegment pixelValues() {
        return pixelValues;
    }

    /** The same memory as a FloatBuffer (no copy). */
    public FloatBuffer pixelValuesBuffer() {
        return pixelValues.asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** A heap copy of all pixel values. */
    public float[] pixelValuesArray() {
        return pixelValues.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** uint8 [totalTiles, canvasHeight, canvasWidth]. */
    public MemorySegment pixelMask() {
        return pixelMask;
    }

    /** One grid per input image, in input order. */
    public List<ImageGrid> grids() {
        return grids;
    }

    public long totalTiles() {
        return totalTiles;
    }

    public int canvasHeight() {
        return canvasHeight;
    }

    public int canvasWidth() {
        return canvasWidth;
    }

    /** The shape of {@link #pixelValues()}: {totalTiles, 3, canvasHeight, canvasWidth}. */
    public long[] shape() {
        return new long[] {totalTiles, 3, canvasHeight, canvasWidth};
    }

    /** The pixel values of image {@code index}'s tiles: [tileCount, 3, H, W]. */
    public MemorySegment imagePixelValues(int index) {
        ImageGrid g = grids.get(index);
        long tileBytes = 3L * canvasHeight * canvasWidth * Float.BYTES;
        return pixelValues.asSlice(g.firstTile() * tileBytes, g.tileCount() * tileBytes);
    }

    @Override
    public void close() {
        if (ownedArena != null) ownedArena.close();
    }
}
