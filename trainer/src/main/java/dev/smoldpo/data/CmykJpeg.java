package dev.smoldpo.data;

import dev.smoldpo.nativelib.DecodedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.util.Arrays;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import org.w3c.dom.Node;

/**
 * Four-channel (CMYK) JPEGs as PIL decodes them. The JDK's JPEG reader converts CMYK through an
 * ICC profile ((200,100,50) saved by PIL came back as (229,167,122)); PIL does no colour
 * management: JpegImagePlugin.py reads every 4-layer JPEG as rawmode "CMYK;I" (Adobe polarity,
 * samples inverted, whether or not an Adobe marker is present), and Convert.c's cmyk2rgb then takes
 * each channel as {@code (255 - k) - round((255 - k) · c / 255)}. So we read the raw raster (the
 * samples as stored, no colour conversion) and apply that.
 *
 * <p>Adobe YCCK JPEGs (transform 2), which libjpeg turns into CMYK before PIL sees them, are left to
 * the reader: PIL cannot write one, so there is no fixture to check a conversion against.
 */
final class CmykJpeg {
    private static final String FORMAT = "javax_imageio_jpeg_image_1.0";

    private CmykJpeg() {}

    /** Whether image 0 of {@code reader} is a plain CMYK JPEG (4 components, not Adobe YCCK). */
    static boolean applies(ImageReader reader) throws IOException {
        if (!"jpeg".equalsIgnoreCase(reader.getFormatName())) return false;
        IIOMetadata meta = reader.getImageMetadata(0);
        if (meta == null || !Arrays.asList(meta.getMetadataFormatNames()).contains(FORMAT)) return false;
        Node markers = child(meta.getAsTree(FORMAT), "markerSequence");
        Node sof = child(markers, "sof");
        if (sof == null || sof.getChildNodes().getLength() != 4) return false;
        Node adobe = child(markers, "app14Adobe");
        Node transform = adobe == null ? null : adobe.getAttributes().getNamedItem("transform");
        return transform == null || !"2".equals(transform.getNodeValue());
    }

    /** Reads image 0's stored samples and converts them with PIL's formula. */
    static DecodedImage read(ImageReader reader) throws IOException {
        Raster raster = reader.readRaster(0, null);
        int w = raster.getWidth(), h = raster.getHeight();
        int[] row = new int[w * 4];
        byte[] rgb = new byte[w * h * 3];
        int o = 0;
        for (int y = 0; y < h; y++) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            for (int x = 0; x < w; x++) {
                // stored samples are PIL's inverted ones: c = 255 - stored, and 255 - k = stored k
                int keep = row[4 * x + 3];
                for (int c = 0; c < 3; c++) rgb[o++] = (byte) channel(255 - row[4 * x + c], keep);
            }
        }
        return DecodedImage.rgb(rgb, w, h);
    }

    /** One RGB channel from PIL's CMYK value {@code c} and {@code nk = 255 - k} (Convert.c's cmyk2rgb). */
    static int channel(int c, int nk) {
        int t = c * nk + 128;
        int scaled = ((t >> 8) + t) >> 8; // c · nk / 255, rounded as PIL's MULDIV255 rounds
        return Math.max(0, Math.min(255, nk - scaled));
    }

    private static Node child(Node parent, String name) {
        if (parent == null) return null;
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (name.equals(n.getNodeName())) return n;
        }
        return null;
    }
}
