package dev.smoldpo.data;

import com.drew.imaging.ImageMetadataReader;
import com.drew.imaging.ImageProcessingException;
import com.drew.metadata.Metadata;
import com.drew.metadata.exif.ExifDirectoryBase;
import com.drew.metadata.exif.ExifIFD0Directory;
import dev.smoldpo.nativelib.DecodedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The EXIF orientation of an encoded image, applied to its decoded pixels the way transformers'
 * {@code load_image} does it ({@code PIL.ImageOps.exif_transpose}; transformers.js's sharp
 * {@code rotate()} gives the same pixels): a phone photo stored sideways with orientation 6 is
 * turned upright before the processor sizes and tiles it.
 *
 * <p>The tag is the Orientation (0x0112) of the first IFD0 that metadata-extractor finds: JPEG
 * APP1 Exif, PNG eXIf, WebP EXIF, TIFF. Values 2-8 transform the pixels; 1, values outside 1-8, no
 * tag and metadata that cannot be parsed leave the image as stored (exif_transpose does nothing
 * for them either; the pixels themselves still decode).
 */
public final class ExifOrientation {
    /** No change (also what every missing or unusable tag means). */
    public static final int NORMAL = 1;

    private ExifOrientation() {}

    /** The Orientation tag of {@code encoded}, or {@link #NORMAL} when there is none usable. */
    public static int read(byte[] encoded) {
        try {
            Metadata metadata = ImageMetadataReader.readMetadata(new ByteArrayInputStream(encoded), encoded.length);
            ExifIFD0Directory ifd0 = metadata.getFirstDirectoryOfType(ExifIFD0Directory.class);
            Integer value = ifd0 == null ? null : ifd0.getInteger(ExifDirectoryBase.TAG_ORIENTATION);
            return value != null && value >= 1 && value <= 8 ? value : NORMAL;
        } catch (ImageProcessingException | IOException | RuntimeException e) {
            // a format metadata-extractor does not know (BMP without EXIF, WBMP, ...) or broken
            // metadata: nothing to orient by, as for exif_transpose
            return NORMAL;
        }
    }

    /** Whether {@code orientation} swaps width and height (5-8: a transpose is involved). */
    public static boolean swapsAxes(int orientation) {
        return orientation >= 5 && orientation <= 8;
    }

    /**
     * {@code image} turned upright for {@code orientation} (PIL's transpose methods: 2
     * FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8
     * ROTATE_90). Pixels are moved whole (all {@code channels} bytes), so every layout keeps its
     * byte order; the result is a new packed image, or {@code image} itself for orientation 1.
     */
    public static DecodedImage apply(DecodedImage image, int orientation) {
        if (orientation < 1 || orientation > 8) {
            throw new IllegalArgumentException("EXIF orientation " + orientation + " is not in 1..8");
        }
        if (orientation == NORMAL) {
            return image;
        }
        int w = image.width(), h = image.height(), px = image.channels();
        int outW = swapsAxes(orientation) ? h : w;
        int outH = swapsAxes(orientation) ? w : h;
        long stride = image.rowStride();
        MemorySegment src = image.pixels();
        byte[] in = src.asSlice(0, stride * (h - 1L) + (long) w * px).toArray(ValueLayout.JAVA_BYTE);
        byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(outW, outH), px)];
        // source offset of output pixel (x, y) = origin + x * stepX + y * stepY, in bytes
        long right = (long) (w - 1) * px, bottom = (h - 1L) * stride;
        long origin, stepX, stepY;
        switch (orientation) {
            case 2 -> { origin = right; stepX = -px; stepY = stride; }                // FLIP_LEFT_RIGHT
            case 3 -> { origin = right + bottom; stepX = -px; stepY = -stride; }      // ROTATE_180
            case 4 -> { origin = bottom; stepX = px; stepY = -stride; }               // FLIP_TOP_BOTTOM
            case 5 -> { origin = 0; stepX = stride; stepY = px; }                     // TRANSPOSE
            case 6 -> { origin = bottom; stepX = -stride; stepY = px; }               // ROTATE_270
            case 7 -> { origin = right + bottom; stepX = -stride; stepY = -px; }      // TRANSVERSE
            default -> { origin = right; stepX = stride; stepY = -px; }               // 8: ROTATE_90
        }
        int o = 0;
        for (int y = 0; y < outH; y++) {
            int s = (int) (origin + y * stepY);
            for (int x = 0; x < outW; x++, s += (int) stepX) {
                for (int k = 0; k < px; k++) out[o++] = in[s + k];
            }
        }
        return DecodedImage.of(MemorySegment.ofArray(out), outW, outH, px, image.layout());
    }
}
