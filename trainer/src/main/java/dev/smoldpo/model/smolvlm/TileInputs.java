package dev.smoldpo.model.smolvlm;

import static dev.smoldpo.model.smolvlm.SmolVlmInputs.*;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** The vision inputs of a batch, shared by the DPO and GRPO collators: tile checks, padding tiles, patches. */
final class TileInputs {
    private final int tileSize;
    private final int patchSize;
    private final int patches;

    TileInputs(ModelConfig config) {
        this.tileSize = config.vision().imageSize();
        this.patchSize = config.vision().patchSize();
        this.patches = config.vision().numPatches();
    }

    /**
     * The vision encoder takes tiles of exactly {@code tileSize x tileSize}; pixels of any other
     * shape (a preprocessor whose max_image_size is not the model's image_size) are refused rather
     * than cut or read past.
     */
    void requireModelTileShape(DpoCollator.Tiles t, String item) {
        long perTile = 3L * tileSize * tileSize;
        if (t.count() < 0 || t.pixels().length != t.count() * perTile) {
            throw new IllegalArgumentException(item + ": the image has " + t.pixels().length + " pixel values for "
                    + t.count() + " tile(s), but the model's tiles are 3x" + tileSize + "x" + tileSize + " (" + perTile
                    + " values each, " + t.count() * perTile + " in all): the image processor's max_image_size must"
                    + " equal the vision config's image_size (" + tileSize + ")");
        }
        if (t.pixelMask() != null && t.pixelMask().length != (long) t.count() * tileSize * tileSize) {
            throw new IllegalArgumentException(item + ": the image's pixel mask has " + t.pixelMask().length
                    + " entries for " + t.count() + " tile(s) of " + tileSize + "x" + tileSize + " ("
                    + (long) t.count() * tileSize * tileSize + " expected)");
        }
    }

    /** Tiles whose pixel values are all exactly zero are batch padding (real black is −1 after normalising). */
    DpoCollator.Tiles dropPaddingTiles(DpoCollator.Tiles t) {
        int per = 3 * tileSize * tileSize;
        int perMask = tileSize * tileSize;
        List<Integer> keep = new ArrayList<>();
        for (int i = 0; i < t.count(); i++) {
            boolean allZero = true;
            for (int k = i * per; k < (i + 1) * per && allZero; k++) {
                allZero = t.pixels()[k] == 0f;
            }
            if (!allZero) {
                keep.add(i);
            }
        }
        if (keep.size() == t.count()) {
            return t;
        }
        float[] pixels = new float[keep.size() * per];
        boolean[] mask = t.pixelMask() == null ? null : new boolean[keep.size() * perMask];
        for (int k = 0; k < keep.size(); k++) {
            System.arraycopy(t.pixels(), keep.get(k) * per, pixels, k * per, per);
            if (mask != null) {
                System.arraycopy(t.pixelMask(), keep.get(k) * perMask, mask, k * perMask, perMask);
            }
        }
        return new DpoCollator.Tiles(keep.size(), pixels, mask);
    }

    /** The index of each image's first tile in the batch's tiles. */
    static int[] firstTiles(List<DpoCollator.Tiles> images) {
        int[] first = new int[images.size()];
        for (int i = 1; i < images.size(); i++) {
            first[i] = first[i - 1] + images.get(i - 1).count();
        }
        return first;
    }

    /** Puts pixel_values, patch_position_ids and patch_mask of {@code images}, tiles in order. */
    void put(List<DpoCollator.Tiles> images, Map<String, TensorData> out) {
        int totalTiles = images.stream().mapToInt(DpoCollator.Tiles::count).sum();
        float[] pixels = new float[totalTiles * 3 * tileSize * tileSize];
        long[] patchPositions = new long[totalTiles * patches];
        boolean[] patchMask = new boolean[totalTiles * patches];
        int tile = 0;
        for (DpoCollator.Tiles img : images) {
            System.arraycopy(img.pixels(), 0, pixels, tile * 3 * tileSize * tileSize, img.count() * 3 * tileSize * tileSize);
            for (int i = 0; i < img.count(); i++, tile++) {
                boolean[] pixelMask = img.pixelMask() == null ? null
                        : Arrays.copyOfRange(img.pixelMask(), i * tileSize * tileSize, (i + 1) * tileSize * tileSize);
                boolean[] mask = PatchPositions.patchMask(pixelMask, tileSize, patchSize);
                long[] positions = PatchPositions.positionIds(mask, tileSize / patchSize);
                System.arraycopy(mask, 0, patchMask, tile * patches, patches);
                System.arraycopy(positions, 0, patchPositions, tile * patches, patches);
            }
        }
        out.put(PIXEL_VALUES, floats(pixels, totalTiles, 3, tileSize, tileSize));
        out.put(PATCH_POSITION_IDS, TensorData.longs(new long[] {totalTiles, patches}, patchPositions));
        out.put(PATCH_MASK, TensorData.bools(new long[] {totalTiles, patches}, patchMask));
    }

    static TensorData floats(float[] values, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new TensorData(dev.smoldpo.onnx.DType.FLOAT, dims, b);
    }
}
