package dev.smoldpo.nativelib;

import dev.smoldpo.nativelib.ffi.smoldpo_preprocess_config;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.List;
import java.util.Map;

/**
 * The Idefics3 image processor settings ({@code preprocessor_config.json}).
 *
 * @param longestEdge  {@code size.longest_edge}: the longest side after the first resize (at most 4096)
 * @param tileSize     {@code max_image_size.longest_edge}: the tile side; without splitting, the side
 *                     of the square every image is resized to
 */
public record PreprocessorConfig(boolean doResize, int longestEdge, boolean doImageSplitting, int tileSize,
                                 boolean doRescale, double rescaleFactor, boolean doNormalize,
                                 float[] imageMean, float[] imageStd) {

    public PreprocessorConfig {
        if (imageMean.length != 3 || imageStd.length != 3)
            throw new IllegalArgumentException("image_mean and image_std need 3 values each");
        imageMean = imageMean.clone();
        imageStd = imageStd.clone();
    }

    /** SmolVLM-256M-Instruct's preprocessor_config.json: 2048 / 512, LANCZOS, 1/255, mean = std = 0.5. */
    public static PreprocessorConfig smolvlm() {
        return new PreprocessorConfig(true, 2048, true, 512, true, 1.0 / 255.0, true,
                new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.5f, 0.5f, 0.5f});
    }

    public PreprocessorConfig withLongestEdge(int edge) {
        return new PreprocessorConfig(doResize, edge, doImageSplitting, tileSize, doRescale, rescaleFactor, doNormalize, imageMean, imageStd);
    }

    public PreprocessorConfig withTileSize(int tile) {
        return new PreprocessorConfig(doResize, longestEdge, doImageSplitting, tile, doRescale, rescaleFactor, doNormalize, imageMean, imageStd);
    }

    public PreprocessorConfig withImageSplitting(boolean split) {
        return new PreprocessorConfig(doResize, longestEdge, split, tileSize, doRescale, rescaleFactor, doNormalize, imageMean, imageStd);
    }

    /**
     * From a parsed preprocessor_config.json (e.g. Jackson's {@code Map}); missing keys keep
     * SmolVLM's values.
     */
    public static PreprocessorConfig fromMap(Map<String, ?> json) {
        PreprocessorConfig d = smolvlm();
        return new PreprocessorConfig(
                bool(json, "do_resize", d.doResize),
                edge(json, "size", d.longestEdge),
                bool(json, "do_image_splitting", d.doImageSplitting),
                edge(json, "max_image_size", d.tileSize),
                bool(json, "do_rescale", d.doRescale),
                json.get("rescale_factor") instanceof Number n ? n.doubleValue() : d.rescaleFactor,
                bool(json, "do_normalize", d.doNormalize),
                triple(json.get("image_mean"), d.imageMean),
                triple(json.get("image_std"), d.imageStd));
    }

    private static boolean bool(Map<String, ?> m, String k, boolean d) {
        return m.get(k) instanceof Boolean b ? b : d;
    }

    private static int edge(Map<String, ?> m, String k, int d) {
        return m.get(k) instanceof Map<?, ?> s && s.get("longest_edge") instanceof Number n ? n.intValue() : d;
    }

    private static float[] triple(Object v, float[] d) {
        if (v instanceof Number n) return new float[] {n.floatValue(), n.floatValue(), n.floatValue()};
        if (v instanceof List<?> l && l.size() == 3) {
            float[] f = new float[3];
            for (int i = 0; i < 3; i++) f[i] = ((Number) l.get(i)).floatValue();
            return f;
        }
        return d;
    }

    /** A native {@code smoldpo_preprocess_config} with these values. */
    public MemorySegment toNative(SegmentAllocator allocator) {
        MemorySegment c = smoldpo_preprocess_config.allocate(allocator);
        smoldpo_preprocess_config.do_resize(c, doResize ? 1 : 0);
        smoldpo_preprocess_config.longest_edge(c, longestEdge);
        smoldpo_preprocess_config.do_image_splitting(c, doImageSplitting ? 1 : 0);
        smoldpo_preprocess_config.tile_size(c, tileSize);
        smoldpo_preprocess_config.do_rescale(c, doRescale ? 1 : 0);
        smoldpo_preprocess_config.do_normalize(c, doNormalize ? 1 : 0);
        smoldpo_preprocess_config.rescale_factor(c, rescaleFactor);
        for (int i = 0; i < 3; i++) {
            smoldpo_preprocess_config.image_mean(c, i, imageMean[i]);
            smoldpo_preprocess_config.image_std(c, i, imageStd[i]);
        }
        return c;
    }
}
