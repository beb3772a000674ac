package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.DecodedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * ImageCheck's decode of the pixel formats where ImageIO's defaults differ from PIL (grey with and
 * without alpha, 16-bit grey, palettes with transparency, CMYK JPEG) against PIL's RGB pixels of the
 * same files, as Idefics3ImageProcessor's convert_to_rgb makes them: 0 differing bytes. Fixtures:
 * fixtures/pil_decode (tools/fixtures/pil_decode.py).
 */
class PilDecodeParityTest {

    private static final String DIR = "/fixtures/pil_decode/";

    private static byte[] resource(String name) {
        try (InputStream in = Objects.requireNonNull(PilDecodeParityTest.class.getResourceAsStream(DIR + name), name)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void everyFixtureDecodesToPilsRgbPixels() {
        List<String> mismatches = new ArrayList<>();
        List<String> modes = new ArrayList<>();
        for (String line : new String(resource("index.txt"), StandardCharsets.US_ASCII).split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.trim().split("\\s+");
            String name = f[0];
            int w = Integer.parseInt(f[1]), h = Integer.parseInt(f[2]);
            ImageCheck check = ImageCheck.decode(resource(name));
            assertTrue(check.ok(), name + ": " + check.reason() + " " + check.detail());
            DecodedImage image = check.image().orElseThrow();
            assertEquals(w + "x" + h, image.width() + "x" + image.height(), name);
            byte[] want = resource(name.replace('.', '_') + ".rgb");
            byte[] got = ImageDecodingParityTest.rgb(image);
            assertEquals(want.length, got.length, name + ": RGB byte count");
            int differ = 0, first = -1;
            for (int i = 0; i < want.length; i++) {
                if (want[i] != got[i]) {
                    if (first < 0) first = i;
                    differ++;
                }
            }
            if (differ > 0) {
                int p = first / 3 * 3;
                mismatches.add(name + " (" + f[3] + "): " + differ + " of " + want.length + " bytes differ; pixel " + first / 3
                        + " PIL " + triple(want, p) + " ours " + triple(got, p));
            }
            modes.add(f[3]);
        }
        assertEquals(List.of(), mismatches);
        assertTrue(modes.containsAll(List.of("L", "LA", "RGBA", "P", "I", "RGB", "CMYK")), "modes covered: " + modes);
    }

    @Test
    void pilsFormulasOnSingleValues() {
        // Convert.c's cmyk2rgb: no ink is white, full black is black, c=55 with no black gives 200
        assertEquals(255, CmykJpeg.channel(0, 255));
        assertEquals(0, CmykJpeg.channel(0, 0));
        assertEquals(200, CmykJpeg.channel(55, 255));
        assertEquals(155, CmykJpeg.channel(100, 255)); // k = 0: 255 - c
        assertEquals(64, CmykJpeg.channel(0, 64)); // c = 0: 255 - k
        assertEquals(50, CmykJpeg.channel(128, 100)); // 100 - round(128 * 100 / 255) = 100 - 50
        // grey levels: 16-bit clips (mode I), 2- and 4-bit stretch (Unpack.c)
        assertEquals(255, GreyPixels.level(1000, 16));
        assertEquals(20, GreyPixels.level(20, 16));
        assertEquals(170, GreyPixels.level(2, 2));
        assertEquals(255, GreyPixels.level(15, 4));
        assertEquals(128, GreyPixels.level(128, 8));
    }

    private static String triple(byte[] b, int i) {
        return (b[i] & 0xff) + "," + (b[i + 1] & 0xff) + "," + (b[i + 2] & 0xff);
    }
}
