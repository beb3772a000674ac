package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.testing.SharedModels;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The collator takes image tiles of exactly the model's size, and says so when they are not. */
class DpoCollatorTileShapeTest {

    private static long[] promptWithImageTokens(ModelConfig config, int tiles) {
        long[] ids = new long[2 + tiles * config.imageSeqLen()];
        java.util.Arrays.fill(ids, config.imageTokenId());
        ids[0] = 1;
        ids[ids.length - 1] = 2;
        return ids;
    }

    /** Pixel values that are not all zero (an all-zero tile is batch padding and dropped). */
    private static float[] image(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, -0.5f);
        return v;
    }

    private static DpoCollator.Pair pair(ModelConfig config, int tiles, float[] pixels, boolean[] mask) {
        return new DpoCollator.Pair(promptWithImageTokens(config, tiles), new long[] {5, 6}, new long[] {7},
                new DpoCollator.Tiles(tiles, pixels, mask));
    }

    @Test
    void tilesOfTheModelsSizeAreCollated() throws Exception {
        ModelConfig config = ModelConfig.load(SharedModels.smolVlmConfig());
        int s = config.vision().imageSize();
        Map<String, TensorData> in = new DpoCollator(config)
                .collate(List.of(pair(config, 1, image(3 * s * s), null)), DpoLayout.SHARED_PREFIX);
        assertArrayEquals(new long[] {1, 3, s, s}, in.get(SmolVlmInputs.PIXEL_VALUES).dims());
    }

    @Test
    void tilesOfAnotherSizeAreRefusedWithTheShapes() throws Exception {
        ModelConfig config = ModelConfig.load(SharedModels.smolVlmConfig());
        int s = config.vision().imageSize();
        DpoCollator collator = new DpoCollator(config);
        // a larger image (what an unsquared no-split image gave: its first 3*s*s floats were taken as the tile)
        // and a smaller one (a processor with a smaller max_image_size)
        for (int side : new int[] {s + 88, 24}) {
            List<DpoCollator.Pair> pairs = List.of(pair(config, 1, image(3 * s * s), null),
                    pair(config, 1, image(3 * side * side), null));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> collator.collate(pairs, DpoLayout.SHARED_PREFIX));
            assertTrue(e.getMessage().contains("pair 1") && e.getMessage().contains("3x" + s + "x" + s)
                    && e.getMessage().contains(String.valueOf(3 * side * side)) && e.getMessage().contains("max_image_size"),
                    e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> collator.collate(
                List.of(pair(config, 1, image(3 * s * s), new boolean[24 * 24])), DpoLayout.CONCATENATED));
        assertTrue(e.getMessage().contains("pixel mask") && e.getMessage().contains(String.valueOf(24 * 24)), e.getMessage());
    }
}
