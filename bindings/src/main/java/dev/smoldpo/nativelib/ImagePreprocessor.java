package dev.smoldpo.nativelib;

import dev.smoldpo.nativelib.ffi.smoldpo_batch_plan;
import dev.smoldpo.nativelib.ffi.smoldpo_h;
import dev.smoldpo.nativelib.ffi.smoldpo_image;
import dev.smoldpo.nativelib.ffi.smoldpo_image_plan;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * SmolVLM / Idefics3 image preprocessing in native code: a batch of decoded images in, tiles of
 * normalised float pixels out (resize with PIL-exact LANCZOS, tile, add the global image, rescale,
 * normalise). One native call per batch; no per-pixel work in Java.
 *
 * <pre>{@code
 * var pre = new ImagePreprocessor(PreprocessorConfig.smolvlm(), Device.CPU);
 * try (PreprocessResult r = pre.preprocess(List.of(DecodedImage.read(path)))) {
 *     MemorySegment pixels = r.pixelValues();   // [tiles, 3, 512, 512] float32
 *     ImageGrid grid = r.grids().get(0);        // rows x cols for the prompt
 * }
 * }</pre>
 */
public final class ImagePreprocessor {
    private final PreprocessorConfig config;
    private final Device device;

    public ImagePreprocessor(PreprocessorConfig config, Device device) {
        this.config = Objects.requireNonNull(config, "config");
        this.device = Objects.requireNonNull(device, "device");
        NativeLibrary.load();
        SmolDpoNative.requireAvailable(device);
    }

    public ImagePreprocessor(PreprocessorConfig config) {
        this(config, Device.CPU);
    }

    public PreprocessorConfig config() {
        return config;
    }

    public Device device() {
        return device;
    }

    /** Sizes and grids for a batch, without processing pixels. */
    public List<ImageGrid> plan(List<DecodedImage> images) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment descs = describe(images, call);
            MemorySegment plans = smoldpo_image_plan.allocateArray(images.size(), call);
            MemorySegment err = SmolDpoNative.newError(call);
            int rc = smoldpo_h.smoldpo_preprocess_plan(descs, images.size(), config.toNative(call), plans,
                    MemorySegment.NULL, err);
            SmolDpoNative.check(rc, err, "smoldpo_preprocess_plan", device);
            return grids(plans, images.size());
        }
    }

    /** Processes a batch; the result owns its memory until {@link PreprocessResult#close()}. */
    public PreprocessResult preprocess(List<DecodedImage> images) {
        Arena owned = Arena.ofShared();
        try {
            return run(images, owned, owned);
        } catch (RuntimeException | Error e) {
            owned.close();
            throw e;
        }
    }

    /** Processes a batch into memory of {@code arena} (the result's close() then does nothing). */
    public PreprocessResult preprocess(List<DecodedImage> images, Arena arena) {
        return run(images, arena, null);
    }

    /** A batch planned by the native library: descriptors, config, per-image plans and the batch plan, in one arena. */
    private record Plan(MemorySegment descs, MemorySegment cfg, MemorySegment plans, MemorySegment batch, MemorySegment err) {}

    private Plan plan(List<DecodedImage> images, Arena call) {
        MemorySegment descs = describe(images, call);
        MemorySegment cfg = config.toNative(call);
        MemorySegment batch = smoldpo_batch_plan.allocate(call);
        MemorySegment plans = smoldpo_image_plan.allocateArray(images.size(), call);
        MemorySegment err = SmolDpoNative.newError(call);
        int rc = smoldpo_h.smoldpo_preprocess_plan(descs, images.size(), cfg, plans, batch, err);
        SmolDpoNative.check(rc, err, "smoldpo_preprocess_plan", device);
        return new Plan(descs, cfg, plans, batch, err);
    }

    private PreprocessResult run(List<DecodedImage> images, Arena out, Arena owned) {
        try (Arena call = Arena.ofConfined()) {
            Plan p = plan(images, call);
            long nValues = smoldpo_batch_plan.pixel_values_len(p.batch());
            long nMask = smoldpo_batch_plan.pixel_mask_len(p.batch());
            MemorySegment values = out.allocate(nValues * Float.BYTES, 64);
            MemorySegment mask = out.allocate(nMask, 64);
            int rc = smoldpo_h.smoldpo_preprocess(device.code(), p.descs(), images.size(), p.cfg(), p.plans(), values, nValues,
                    mask, nMask, p.err());
            SmolDpoNative.check(rc, p.err(), "smoldpo_preprocess", device);
            return new PreprocessResult(owned, values, mask, grids(p.plans(), images.size()),
                    smoldpo_batch_plan.total_tiles(p.batch()), smoldpo_batch_plan.canvas_height(p.batch()),
                    smoldpo_batch_plan.canvas_width(p.batch()));
        }
    }

    /** The pipeline stopped before rescale/normalise: uint8 [totalTiles, 3, H, W] (for parity checks). */
    public Uint8Result preprocessUint8(List<DecodedImage> images) {
        try (Arena call = Arena.ofConfined()) {
            Plan p = plan(images, call);
            long n = smoldpo_batch_plan.pixel_values_len(p.batch());
            MemorySegment px = call.allocate(n);
            int rc = smoldpo_h.smoldpo_preprocess_u8(device.code(), p.descs(), images.size(), p.cfg(), p.plans(), px, n, p.err());
            SmolDpoNative.check(rc, p.err(), "smoldpo_preprocess_u8", device);
            return new Uint8Result(px.toArray(ValueLayout.JAVA_BYTE), grids(p.plans(), images.size()),
                    smoldpo_batch_plan.canvas_height(p.batch()), smoldpo_batch_plan.canvas_width(p.batch()));
        }
    }

    /** uint8 pixels [totalTiles, 3, canvasHeight, canvasWidth] with their grids. */
    public record Uint8Result(byte[] pixels, List<ImageGrid> grids, int canvasHeight, int canvasWidth) {}

    /**
     * One PIL-exact LANCZOS resize (alpha composited onto white first): interleaved RGB bytes of
     * {@code width x height}.
     */
    public static byte[] resize(DecodedImage image, int width, int height, Device device) {
        NativeLibrary.load();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment desc = describe(List.of(image), call);
            long n = Math.max(0L, (long) width * height * 3);
            MemorySegment out = call.allocate(Math.max(1, n));
            MemorySegment err = SmolDpoNative.newError(call);
            int rc = smoldpo_h.smoldpo_resize_u8(device.code(), desc, width, height, out, n, err);
            SmolDpoNative.check(rc, err, "smoldpo_resize_u8", device);
            return out.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private static MemorySegment describe(List<DecodedImage> images, Arena call) {
        Objects.requireNonNull(images, "images");
        if (images.isEmpty()) throw new IllegalArgumentException("no images to preprocess");
        MemorySegment descs = smoldpo_image.allocateArray(images.size(), call);
        for (int i = 0; i < images.size(); i++) {
            DecodedImage img = Objects.requireNonNull(images.get(i), () -> "image " + images.indexOf(null) + " is null");
            MemorySegment px = img.pixels();
            if (!px.isNative() && px.byteSize() > 0) {
                // heap arrays cannot be passed to native code: one bulk copy
                long n = Math.min(px.byteSize(), Math.max(0L, img.requiredBytes()));
                MemorySegment copy = call.allocate(Math.max(1, n));
                MemorySegment.copy(px, 0, copy, 0, n);
                px = copy.asSlice(0, n);
            } else if (!px.isNative()) {
                px = MemorySegment.NULL;
            }
            MemorySegment d = smoldpo_image.asSlice(descs, i);
            smoldpo_image.data(d, px);
            smoldpo_image.data_len(d, px.byteSize());
            smoldpo_image.width(d, img.width());
            smoldpo_image.height(d, img.height());
            smoldpo_image.channels(d, img.channels());
            smoldpo_image.layout(d, img.layout().code());
            smoldpo_image.row_stride(d, img.rowStride());
        }
        return descs;
    }

    private static List<ImageGrid> grids(MemorySegment plans, int n) {
        List<ImageGrid> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MemorySegment p = smoldpo_image_plan.asSlice(plans, i);
            out.add(new ImageGrid(smoldpo_image_plan.rows(p), smoldpo_image_plan.cols(p),
                    smoldpo_image_plan.tile_count(p), smoldpo_image_plan.first_tile(p),
                    smoldpo_image_plan.resized_width(p), smoldpo_image_plan.resized_height(p),
                    smoldpo_image_plan.split_width(p), smoldpo_image_plan.split_height(p)));
        }
        return out;
    }
}
