package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.DecodedImage;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ExifOrientationTest {

    @Test
    void readsTheTagOfJpegPngAndWebp() throws IOException {
        var dir = ImageDecodingParityTest.dir();
        assertEquals(6, ExifOrientation.read(Files.readAllBytes(dir.resolve("exif6.jpg"))));
        assertEquals(8, ExifOrientation.read(Files.readAllBytes(dir.resolve("exif8.jpg"))));
        assertEquals(6, ExifOrientation.read(Files.readAllBytes(dir.resolve("exif6.webp"))));
        for (int o = 1; o <= 8; o++) {
            assertEquals(o, ExifOrientation.read(Files.readAllBytes(dir.resolve("orient" + o + ".png"))));
        }
        assertEquals(ExifOrientation.NORMAL, ExifOrientation.read(Files.readAllBytes(dir.resolve("plain.webp"))), "no EXIF");
    }

    @Test
    void noOrUnreadableMetadataMeansUpright() throws IOException {
        assertEquals(ExifOrientation.NORMAL, ExifOrientation.read(png(sample(BufferedImage.TYPE_3BYTE_BGR))));
        assertEquals(ExifOrientation.NORMAL, ExifOrientation.read(new byte[] {1, 2, 3, 4, 5}));
        assertEquals(ExifOrientation.NORMAL, ExifOrientation.read(new byte[0]));
    }

    @Test
    void outOfRangeOrientationsAreRefused() {
        DecodedImage img = DecodedImage.of(sample(BufferedImage.TYPE_3BYTE_BGR));
        for (int bad : new int[] {0, 9, -1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExifOrientation.apply(img, bad));
            assertTrue(e.getMessage().contains(String.valueOf(bad)), e.getMessage());
        }
        assertSame(img, ExifOrientation.apply(img, 1));
    }

    @Test
    void everyAwtLayoutIsTurnedLikeRgb() {
        // the RGB path equals PIL on the goldens (ImageDecodingParityTest); every wrapped AWT layout
        // (BGR, ABGR, packed int, gray, padded rows) must give the same upright pixels
        BufferedImage reference = sample(BufferedImage.TYPE_3BYTE_BGR);
        for (int o = 1; o <= 8; o++) {
            byte[] want = ImageDecodingParityTest.rgb(ExifOrientation.apply(DecodedImage.of(reference), o));
            for (int type : new int[] {BufferedImage.TYPE_INT_RGB, BufferedImage.TYPE_INT_ARGB, BufferedImage.TYPE_4BYTE_ABGR}) {
                DecodedImage turned = ExifOrientation.apply(DecodedImage.of(redraw(reference, type)), o);
                assertEquals(ExifOrientation.swapsAxes(o) ? 13 : 21, turned.width(), "orientation " + o);
                assertArrayEquals(want, ImageDecodingParityTest.rgb(turned), "AWT type " + type + ", orientation " + o);
            }
            BufferedImage gray = redraw(reference, BufferedImage.TYPE_BYTE_GRAY);
            byte[] grayRgb = ImageDecodingParityTest.rgb(DecodedImage.of(gray));
            DecodedImage turnedGray = ExifOrientation.apply(DecodedImage.of(gray), o);
            assertEquals(1, turnedGray.channels());
            byte[] wantGray = ImageDecodingParityTest.rgb(ExifOrientation.apply(DecodedImage.rgb(grayRgb, 21, 13), o));
            assertArrayEquals(wantGray, ImageDecodingParityTest.rgb(turnedGray), "gray, orientation " + o);
            // rows with padding: a stride wider than the pixels
            DecodedImage rgb = DecodedImage.of(reference);
            byte[] packed = ImageDecodingParityTest.rgb(rgb);
            byte[] padded = new byte[13 * 70];
            for (int y = 0; y < 13; y++) System.arraycopy(packed, y * 63, padded, y * 70, 63);
            DecodedImage strided = new DecodedImage(java.lang.foreign.MemorySegment.ofArray(padded), 21, 13, 3,
                    dev.smoldpo.nativelib.PixelLayout.RGB, 70);
            assertArrayEquals(want, ImageDecodingParityTest.rgb(ExifOrientation.apply(strided, o)), "stride 70, orientation " + o);
        }
    }

    @Test
    void sixTurnsClockwise() {
        // 2x1 [A B] with orientation 6 is upright as a column [A; B] (90 degrees clockwise)
        byte[] px = {1, 2, 3, 4, 5, 6};
        DecodedImage turned = ExifOrientation.apply(DecodedImage.rgb(px, 2, 1), 6);
        assertEquals(1, turned.width());
        assertEquals(2, turned.height());
        assertArrayEquals(px, ImageDecodingParityTest.rgb(turned));
        DecodedImage eight = ExifOrientation.apply(DecodedImage.rgb(px, 2, 1), 8);
        assertArrayEquals(new byte[] {4, 5, 6, 1, 2, 3}, ImageDecodingParityTest.rgb(eight));
    }

    private static BufferedImage sample(int type) {
        BufferedImage img = new BufferedImage(21, 13, type);
        Graphics2D g = img.createGraphics();
        g.setPaint(new GradientPaint(0, 0, Color.RED, 21, 13, new Color(20, 200, 90)));
        g.fillRect(0, 0, 21, 13);
        g.setColor(new Color(10, 20, 250));
        g.fillRect(2, 1, 5, 3);
        g.dispose();
        return img;
    }

    private static BufferedImage redraw(BufferedImage src, int type) {
        BufferedImage img = new BufferedImage(src.getWidth(), src.getHeight(), type);
        Graphics2D g = img.createGraphics();
        g.drawImage(src, 0, 0, null);
        g.dispose();
        return img;
    }

    private static byte[] png(BufferedImage img) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }
}
