package dev.smoldpo.data;

import dev.smoldpo.nativelib.DecodedImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Optional;
import javax.imageio.ImageIO;
import javax.imageio.stream.MemoryCacheImageInputStream;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * The outcome of decoding one example's image: the decoded image, or the skip reason
 * ({@link SkipReport#MISSING_IMAGE}, {@link SkipReport#UNDECODABLE_IMAGE},
 * {@link SkipReport#IMAGE_TOO_LARGE}) and a human-readable detail. Never throws for bad bytes.
 *
 * @param image  the decoded image, empty when the bytes cannot be used
 * @param reason null when decoded, else a {@link SkipReport} reason
 * @param detail null when decoded, else what went wrong
 */
public record ImageCheck(Optional<DecodedImage> image, String reason, String detail) {

    /** Largest image accepted (width × height), against decompression bombs: 64 megapixels. */
    public static final long MAX_PIXELS = 64L << 20;

    public ImageCheck {
        if (image.isPresent() == (reason != null)) throw new IllegalArgumentException("either an image or a reason");
    }

    public boolean ok() {
        return image.isPresent();
    }

    /**
     * Decodes with ImageIO (JPEG, PNG, BMP, GIF, WBMP, and WebP through the TwelveMonkeys plugin;
     * first frame), checking the size before decoding, with PIL's pixels where ImageIO's colour
     * handling differs from PIL's (grey: {@link GreyPixels}; CMYK JPEG: {@link CmykJpeg}), then turns the pixels upright by the EXIF
     * orientation as transformers' {@code load_image} does ({@link ExifOrientation}).
     */
    public static ImageCheck decode(byte[] encoded) {
        if (encoded == null || encoded.length == 0) return fail(SkipReport.MISSING_IMAGE, "no image bytes");
        // the bytes are in memory already: an in-memory stream, not ImageIO's default file-backed cache
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                return fail(SkipReport.UNDECODABLE_IMAGE, "unknown image format (" + encoded.length + " bytes, starting "
                        + hex(encoded) + ")");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if (w <= 0 || h <= 0) return fail(SkipReport.UNDECODABLE_IMAGE, "image size " + w + "x" + h);
                if ((long) w * h > MAX_PIXELS) {
                    return fail(SkipReport.IMAGE_TOO_LARGE, "image " + w + "x" + h + " exceeds " + MAX_PIXELS + " pixels");
                }
                DecodedImage decoded;
                if (CmykJpeg.applies(reader)) {
                    decoded = CmykJpeg.read(reader);
                } else {
                    BufferedImage img = reader.read(0);
                    if (img == null) return fail(SkipReport.UNDECODABLE_IMAGE, reader.getFormatName() + " reader returned nothing");
                    DecodedImage grey = GreyPixels.of(img);
                    decoded = grey != null ? grey : DecodedImage.of(img);
                }
                DecodedImage upright = ExifOrientation.apply(decoded, ExifOrientation.read(encoded));
                return new ImageCheck(Optional.of(upright), null, null);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            return fail(SkipReport.UNDECODABLE_IMAGE, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static ImageCheck fail(String reason, String detail) {
        return new ImageCheck(Optional.empty(), reason, detail);
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) sb.append(String.format("%02x", b[i] & 0xff));
        return sb.toString();
    }
}
