package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.ImageGrid;
import dev.smoldpo.nativelib.ImagePreprocessor;
import dev.smoldpo.nativelib.PreprocessResult;
import dev.smoldpo.nativelib.PreprocessorConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The trainer's decode path (ImageCheck: ImageIO + WebP plugin + EXIF orientation) against
 * transformers' {@code load_image} (PIL decode, {@code exif_transpose}, RGB) and, through the native
 * processor, against transformers' Idefics3ImageProcessor on those files: 0 differing values.
 * Fixtures: native/tests/goldens/transformers (make_transformers_goldens.py).
 */
class ImageDecodingParityTest {

    static Path dir() {
        return Path.of(System.getProperty("smoldpo.goldens.dir", "../native/tests/goldens")).resolve("transformers");
    }

    private static List<String[]> lines(String file) throws IOException {
        return Files.readAllLines(dir().resolve(file)).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#")).map(l -> l.trim().split("\\s+")).toList();
    }

    private static DecodedImage decode(String file) throws IOException {
        ImageCheck check = ImageCheck.decode(Files.readAllBytes(dir().resolve(file)));
        assertTrue(check.ok(), file + ": " + check.reason() + " " + check.detail());
        return check.image().orElseThrow();
    }

    /** The image as compact RGB bytes: the native side's own conversion (a same-size resize copies). */
    static byte[] rgb(DecodedImage image) {
        return ImagePreprocessor.resize(image, image.width(), image.height(), Device.CPU);
    }

    @Test
    void decodedPixelsEqualLoadImage() throws IOException {
        Set<Integer> orientations = new TreeSet<>();
        Set<String> formats = new TreeSet<>();
        for (String[] row : lines("decoded.txt")) {
            String file = row[0];
            int w = Integer.parseInt(row[1]), h = Integer.parseInt(row[2]);
            DecodedImage image = decode(file);
            assertEquals(w + "x" + h, image.width() + "x" + image.height(), file + ": size after exif_transpose");
            byte[] want = Files.readAllBytes(dir().resolve(row[4]));
            byte[] got = rgb(image);
            int differ = 0;
            for (int i = 0; i < want.length; i++) differ += want[i] != got[i] ? 1 : 0;
            assertEquals(0, differ, file + ": " + differ + " of " + want.length + " RGB bytes differ from load_image");
            orientations.add(Integer.parseInt(row[3]));
            formats.add(file.substring(file.lastIndexOf('.') + 1));
        }
        assertEquals(Set.of(0, 1, 2, 3, 4, 5, 6, 7, 8), orientations, "all EXIF orientations and none");
        assertEquals(Set.of("jpg", "png", "webp"), formats);
    }

    @Test
    void encodedFilesThroughImageCheckGiveTransformersPixelValues() throws IOException {
        int checked = 0;
        for (String[] c : lines("cases.txt")) {
            String name = c[0], source = c[1];
            if (source.endsWith(".rgb")) continue; // raw sources: the bindings' TransformersParityTest
            PreprocessorConfig d = PreprocessorConfig.smolvlm();
            int tile = Integer.parseInt(c[7]);
            PreprocessorConfig cfg = new PreprocessorConfig(c[4].equals("1"), Integer.parseInt(c[5]), c[6].equals("1"), tile,
                    d.doRescale(), d.rescaleFactor(), d.doNormalize(), d.imageMean(), d.imageStd());
            try (PreprocessResult r = new ImagePreprocessor(cfg).preprocess(List.of(decode(source)))) {
                ImageGrid g = r.grids().get(0);
                assertEquals(c[8] + "x" + c[9] + " (" + c[10] + " tiles)", g.rows() + "x" + g.cols() + " (" + g.tileCount() + " tiles)",
                        name + ": rows x cols");
                assertArrayEquals(new long[] {Integer.parseInt(c[10]), 3, tile, tile}, r.shape(), name);
                assertEquals(c[11], sha256(r.pixelValuesArray()), name + ": SHA-256 of pixel_values");
            }
            checked++;
        }
        assertTrue(checked >= 4, "encoded cases: " + checked);
    }

    @Test
    void orientationSixGivesTheUprightGrid() throws IOException {
        // stored 64x48 (landscape) with orientation 6: upright 48x64, so 4 rows x 3 columns as
        // transformers and transformers.js give, not the stored image's 3 x 4
        DecodedImage upright = decode("exif6.jpg");
        assertEquals(48, upright.width());
        assertEquals(64, upright.height());
        PreprocessorConfig cfg = PreprocessorConfig.smolvlm().withLongestEdge(64).withTileSize(16);
        ImageGrid g = new ImagePreprocessor(cfg).plan(List.of(upright)).get(0);
        assertEquals(4, g.rows());
        assertEquals(3, g.cols());
    }

    private static String sha256(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
