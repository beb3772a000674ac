package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * smoldpo's processor against transformers' own Idefics3ImageProcessor (v4.46.0, run by
 * make_transformers_goldens.py): the same float32 pixel_values bit for bit, the same grid.
 */
class TransformersParityTest {

    @Test
    void everyCaseEqualsTransformersBitForBit() {
        List<TransformersGoldens.Case> cases = TransformersGoldens.cases();
        assertTrue(cases.stream().filter(c -> !c.splitting()).count() >= 6, "no-split cases");
        assertTrue(cases.stream().anyMatch(c -> !c.splitting() && !c.doResize()), "a no-split case without do_resize");
        assertTrue(cases.stream().anyMatch(c -> !c.splitting() && c.tileSize() == 512), "a no-split case at SmolVLM's tile size");
        assertTrue(cases.stream().anyMatch(c -> c.splitting() && c.tileSize() == 512), "a split case at SmolVLM's tile size");
        for (TransformersGoldens.Case c : cases) {
            assertMatches(c, Device.CPU);
        }
    }

    /** Preprocesses one case on {@code device} and demands transformers' exact output. */
    static void assertMatches(TransformersGoldens.Case c, Device device) {
        try (PreprocessResult r = new ImagePreprocessor(c.config(), device).preprocess(List.of(c.image()))) {
            ImageGrid g = r.grids().get(0);
            assertEquals(c.rows(), g.rows(), c.name() + " rows");
            assertEquals(c.cols(), g.cols(), c.name() + " cols");
            assertEquals(c.tiles(), g.tileCount(), c.name() + " tiles");
            assertArrayEquals(new long[] {c.tiles(), 3, c.tileSize(), c.tileSize()}, r.shape(), c.name() + " shape");
            float[] got = r.pixelValuesArray();
            assertNoDifference(c, got);
            for (byte m : r.pixelMask().toArray(ValueLayout.JAVA_BYTE)) assertEquals(1, m, c.name() + " mask");
        }
    }

    static void assertNoDifference(TransformersGoldens.Case c, float[] got) {
        float[] want = c.values();
        if (want != null) {
            assertEquals(want.length, got.length, c.name() + " value count");
            int differ = 0, first = -1;
            double max = 0;
            for (int i = 0; i < want.length; i++) {
                if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                    differ++;
                    if (first < 0) first = i;
                    max = Math.max(max, Math.abs(want[i] - got[i]));
                }
            }
            assertEquals(0, differ, c.name() + ": " + differ + " of " + want.length + " float32 values differ from"
                    + " transformers (first at " + first + ", max |diff| " + max + ")");
        }
        assertEquals(c.sha256(), TransformersGoldens.sha256(got), c.name() + ": SHA-256 of pixel_values");
    }

    @Test
    void casesSharingAConfigGiveTheSameBytesInOneBatch() {
        Map<PreprocessorConfigKey, List<TransformersGoldens.Case>> groups = new LinkedHashMap<>();
        for (TransformersGoldens.Case c : TransformersGoldens.cases()) {
            groups.computeIfAbsent(new PreprocessorConfigKey(c.doResize(), c.longestEdge(), c.splitting(), c.tileSize()),
                    k -> new ArrayList<>()).add(c);
        }
        int batched = 0;
        for (List<TransformersGoldens.Case> group : groups.values()) {
            if (group.size() < 2) continue;
            List<DecodedImage> images = group.stream().map(TransformersGoldens.Case::image).toList();
            try (PreprocessResult r = new ImagePreprocessor(group.get(0).config()).preprocess(images)) {
                for (int i = 0; i < group.size(); i++) {
                    assertNoDifference(group.get(i), r.imagePixelValues(i).toArray(ValueLayout.JAVA_FLOAT));
                    batched++;
                }
            }
        }
        assertTrue(batched >= 2, "at least one batch of two cases with one config");
    }

    private record PreprocessorConfigKey(boolean doResize, int longestEdge, boolean splitting, int tileSize) {}
}
