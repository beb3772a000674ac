package dev.smoldpo.nativelib;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.SinglePixelPackedSampleModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import javax.imageio.ImageIO;

/**
 * One decoded 8-bit image: pixel bytes (heap or native memory) plus geometry. Nothing is copied
 * per pixel in Java: AWT images are wrapped as they are (BGR, ABGR, packed int) and the native
 * side reorders channels; unusual AWT layouts are redrawn once with {@link Graphics2D}.
 *
 * @param pixels    the bytes, rows of {@code rowStride} bytes (at least {@code width * channels} used)
 * @param channels  1 (gray), 3 or 4
 * @param rowStride bytes from one row to the next
 */
public record DecodedImage(MemorySegment pixels, int width, int height, int channels, PixelLayout layout,
                           long rowStride) {

    public DecodedImage {
        Objects.requireNonNull(pixels, "pixels");
        Objects.requireNonNull(layout, "layout");
    }

    /** Interleaved RGB bytes, rows packed. */
    public static DecodedImage rgb(byte[] rgb, int width, int height) {
        return new DecodedImage(MemorySegment.ofArray(rgb), width, height, 3, PixelLayout.RGB, (long) width * 3);
    }

    /** Interleaved RGBA bytes, rows packed; alpha is composited onto white. */
    public static DecodedImage rgba(byte[] rgba, int width, int height) {
        return new DecodedImage(MemorySegment.ofArray(rgba), width, height, 4, PixelLayout.RGB, (long) width * 4);
    }

    /** Interleaved bytes of any supported layout, rows packed. */
    public static DecodedImage of(MemorySegment pixels, int width, int height, int channels, PixelLayout layout) {
        return new DecodedImage(pixels, width, height, channels, layout, (long) width * channels);
    }

    /**
     * Decodes encoded image bytes (JPEG, PNG, ...) with ImageIO, pixels as stored: no EXIF
     * orientation is applied here (the trainer's {@code dev.smoldpo.data.ImageCheck}, which decodes
     * dataset and CLI images, applies it as transformers' load_image does).
     */
    public static DecodedImage decode(byte[] encoded) {
        try {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(encoded));
            if (img == null) throw new IllegalArgumentException("ImageIO cannot decode these " + encoded.length + " bytes");
            return of(img);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads and decodes an image file with ImageIO. */
    public static DecodedImage read(Path file) {
        try {
            return decode(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Wraps an AWT image's pixel storage without copying it when its layout is a known one. */
    public static DecodedImage of(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        WritableRaster raster = img.getRaster();
        boolean plain = raster.getParent() == null && raster.getSampleModelTranslateX() == 0
                && raster.getSampleModelTranslateY() == 0;
        if (plain) {
            switch (img.getType()) {
                case BufferedImage.TYPE_3BYTE_BGR -> {
                    DecodedImage d = wrapBytes(raster, w, h, 3, new int[] {2, 1, 0}, PixelLayout.BGR);
                    if (d != null) return d;
                }
                case BufferedImage.TYPE_4BYTE_ABGR -> {
                    DecodedImage d = wrapBytes(raster, w, h, 4, new int[] {3, 2, 1, 0}, PixelLayout.ABGR);
                    if (d != null) return d;
                }
                case BufferedImage.TYPE_BYTE_GRAY -> {
                    DecodedImage d = wrapBytes(raster, w, h, 1, new int[] {0}, PixelLayout.RGB);
                    if (d != null) return d;
                }
                case BufferedImage.TYPE_INT_RGB, BufferedImage.TYPE_INT_ARGB -> {
                    if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN
                            && raster.getSampleModel() instanceof SinglePixelPackedSampleModel sm
                            && raster.getDataBuffer() instanceof DataBufferInt db
                            && db.getNumBanks() == 1 && db.getOffset() == 0 && sm.getScanlineStride() == w) {
                        boolean alpha = img.getType() == BufferedImage.TYPE_INT_ARGB;
                        return new DecodedImage(MemorySegment.ofArray(db.getData()), w, h, 4,
                                alpha ? PixelLayout.BGR : PixelLayout.BGRX, (long) w * 4);
                    }
                }
                default -> { }
            }
        }
        // anything else (indexed, 16-bit, premultiplied, sub-images, ...): redraw once
        boolean alpha = img.getColorModel().hasAlpha();
        BufferedImage copy = new BufferedImage(w, h, alpha ? BufferedImage.TYPE_4BYTE_ABGR : BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = copy.createGraphics();
        try {
            g.drawImage(img, 0, 0, null);
        } finally {
            g.dispose();
        }
        return of(copy);
    }

    private static DecodedImage wrapBytes(WritableRaster raster, int w, int h, int channels, int[] offsets, PixelLayout layout) {
        if (!(raster.getSampleModel() instanceof ComponentSampleModel sm)) return null;
        if (!(raster.getDataBuffer() instanceof DataBufferByte db) || db.getNumBanks() != 1 || db.getOffset() != 0) return null;
        if (channels > 1 && !(sm instanceof PixelInterleavedSampleModel)) return null;
        if (sm.getPixelStride() != channels || !Arrays.equals(sm.getBandOffsets(), offsets)) return null;
        return new DecodedImage(MemorySegment.ofArray(db.getData()), w, h, channels, layout, sm.getScanlineStride());
    }

    /** Bytes the native side reads: stride * (height - 1) + width * channels. */
    long requiredBytes() {
        return height <= 0 ? 0 : rowStride * (height - 1L) + (long) width * channels;
    }
}
