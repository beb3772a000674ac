package dev.smoldpo.data;

import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.PixelLayout;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.lang.foreign.MemorySegment;

/**
 * Grey and grey+alpha images as PIL reads them, from the raster's samples. ImageIO tags PNG grey as
 * the linear CS_GRAY colour space, so drawing it into an RGB image gamma-converts it (grey 128
 * became 188); PIL never colour-converts grey, it copies the level into R, G and B (Convert.c's
 * l2rgb, la2rgba). The formats PIL opens them in (PngImagePlugin.py's mode table):
 *
 * <ul>
 *   <li>1, 2, 4-bit grey: mode L, levels stretched to 0-255 (Unpack.c's L;2 and L;4: × 85, × 17; "1": 0/255);</li>
 *   <li>16-bit grey: mode I, which becomes RGB clipped to 0-255 (Convert.c's i2rgb), not scaled;</li>
 *   <li>16-bit grey+alpha: mode LA from the high byte of each sample (rawmode LA;16B).</li>
 * </ul>
 *
 * <p>Grey+alpha comes back as RGBA, so that the native side composites it onto white exactly as it
 * does RGBA: Idefics3ImageProcessor's convert_to_rgb turns every image into RGBA (for LA: the level
 * three times, the alpha kept; Convert.c's la2rgba) and alpha-composites it over white.
 */
final class GreyPixels {
    private GreyPixels() {}

    /** The image's pixels as PIL makes them, or null when it is not a grey image this class handles. */
    static DecodedImage of(BufferedImage img) {
        if (img.getType() == BufferedImage.TYPE_BYTE_GRAY) return null; // wrapped as it is: already PIL's bytes
        if (!(img.getColorModel() instanceof ComponentColorModel cm)
                || cm.getColorSpace().getType() != ColorSpace.TYPE_GRAY) return null;
        Raster raster = img.getRaster();
        int bands = raster.getNumBands();
        int bits = cm.getComponentSize(0);
        if (bands < 1 || bands > 2 || bits > 16 || (bands == 2 && cm.getComponentSize(1) != bits)) return null;
        int w = img.getWidth(), h = img.getHeight();
        int[] row = new int[w * bands];
        byte[] out = new byte[w * h * (bands == 2 ? 4 : 1)];
        int o = 0;
        for (int y = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            for (int x = 0; x < w; x++) {
                if (bands == 1) {
                    out[o++] = (byte) level(row[x], bits);
                } else {
                    // 16-bit LA: PIL keeps the high byte of both samples; 8-bit: as stored
                    int g = bits == 16 ? row[2 * x] >>> 8 : level(row[2 * x], bits);
                    int a = bits == 16 ? row[2 * x + 1] >>> 8 : level(row[2 * x + 1], bits);
                    out[o++] = (byte) g;
                    out[o++] = (byte) g;
                    out[o++] = (byte) g;
                    out[o++] = (byte) a;
                }
            }
        }
        return bands == 2 ? DecodedImage.rgba(out, w, h)
                : DecodedImage.of(MemorySegment.ofArray(out), w, h, 1, PixelLayout.RGB);
    }

    /** One grey sample as PIL's 8-bit level. */
    static int level(int sample, int bits) {
        if (bits == 8) return sample;
        if (bits == 16) return Math.min(sample, 255); // mode I to L/RGB clips (Convert.c)
        return sample * 255 / ((1 << bits) - 1); // 1, 2, 4 bits: exact multiples (× 255, × 85, × 17)
    }
}
