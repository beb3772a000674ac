package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.nativelib.DecodedImage;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * JSONL images given as plain base64 strings (README: "one {@code image} (bytes, path or base64)"): in
 * {@code image} and in {@code images} they load as the same image given by path, and a string that is
 * neither a file nor an image in base64 is skipped as missing_image with a note saying so.
 */
class JsonlBase64ImagesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** The formats ImageCheck decodes that have a signature; WebP from the transformers goldens (ImageIO writes none). */
    private static Map<String, byte[]> images() throws Exception {
        Path webp = Path.of(System.getProperty("smoldpo.goldens.dir", "../native/tests/goldens")).resolve("transformers/plain.webp");
        return Map.of("png", DataFixtures.image(21, 13, "png", 1), "jpg", DataFixtures.image(16, 24, "jpeg", 2),
                "gif", DataFixtures.image(9, 9, "gif", 3), "bmp", DataFixtures.image(12, 7, "bmp", 4), "webp", Files.readAllBytes(webp));
    }

    private static String line(String prompt, String key, Object image) throws Exception {
        ObjectNode o = JSON.createObjectNode().put("prompt", prompt).put("chosen", "yes").put("rejected", "no");
        o.set(key, JSON.valueToTree(image));
        return JSON.writeValueAsString(o);
    }

    private static byte[] pixels(byte[] encoded) {
        ImageCheck check = ImageCheck.decode(encoded);
        assertTrue(check.ok(), check.detail());
        DecodedImage img = check.image().orElseThrow();
        return img.pixels().toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void plainBase64InImageAndImagesLoadsAsTheSameImageAsItsPath() throws Exception {
        Files.createDirectories(tmp.resolve("img"));
        List<String> lines = new ArrayList<>();
        List<String> formats = List.of("png", "jpg", "gif", "bmp", "webp");
        Map<String, byte[]> images = images();
        for (String f : formats) {
            byte[] bytes = images.get(f);
            Files.write(tmp.resolve("img/a." + f), bytes);
            String b64 = Base64.getEncoder().encodeToString(bytes);
            lines.add(line(f + " by path", "image", "img/a." + f));
            lines.add(line(f + " in image", "image", b64));
            lines.add(line(f + " in images", "images", List.of(b64)));
            // as Python's base64.encodebytes writes it: a line break every 76 characters
            lines.add(line(f + " wrapped", "images", List.of(Base64.getMimeEncoder().encodeToString(bytes))));
        }
        Path file = Files.writeString(tmp.resolve("pairs.jsonl"), String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertTrue(ds.skipped().isEmpty(), ds.skipped().summary());
            assertEquals(lines.size(), ds.size());
            for (int f = 0; f < formats.size(); f++) {
                PreferenceExample byPath = ds.get(4 * f);
                assertEquals(formats.get(f) + " by path", byPath.promptText());
                byte[] expected = pixels(byPath.image());
                for (int k = 1; k < 4; k++) {
                    PreferenceExample inline = ds.get(4 * f + k);
                    assertArrayEquals(images.get(formats.get(f)), inline.image(), inline.promptText());
                    assertArrayEquals(expected, pixels(inline.image()), inline.promptText());
                }
            }
        }
    }

    @Test
    void aStringThatIsNeitherAFileNorABase64ImageIsAMissingImageSaidSo() throws Exception {
        byte[] png = DataFixtures.image(8, 8, "png", 5);
        String text = Base64.getEncoder().encodeToString("plain text that is valid base64 but is not any kind of image at all".getBytes(StandardCharsets.UTF_8));
        Path file = Files.writeString(tmp.resolve("junk.jsonl"), String.join("\n",
                line("good", "image", Base64.getEncoder().encodeToString(png)),
                line("junk", "image", "definitely not an image"),
                line("text", "images", List.of(text)),
                line("short path", "image", "a.png")) + "\n");
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(1, ds.size());
            assertEquals(Map.of(SkipReport.MISSING_IMAGE, 3L), ds.skipped().counts());
            assertEquals(List.of(1L, 2L, 3L), ds.skipped().examples().get(SkipReport.MISSING_IMAGE));
            String summary = ds.skipped().summary();
            assertEquals("3 skipped: missing_image=3 (rows 1, 2, 3; row 1: image 1 \"definitely not an image\" is not a file, "
                    + "data: URI or base64 image (" + tmp.resolve("definitely not an image") + " not found))", summary);
            assertTrue(ds.skipped().toMap().toString().contains("is not a file, data: URI or base64 image"), ds.skipped().toMap().toString());
        }
        // when every row is unusable the error says why, not only "missing_image=N"
        Path allJunk = Files.writeString(tmp.resolve("all-junk.jsonl"), line("junk", "images", List.of(text)) + "\n");
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(allJunk));
        assertTrue(e.getMessage().contains("missing_image=1 (row 0: image 1 \"" + text.substring(0, 60) + "... ("
                + text.length() + " characters)\" is not a file, data: URI or base64 image"), e.getMessage());
    }

    /** A file wins over base64: a name made of base64 letters that starts like a PNG's base64 is still read as the file. */
    @Test
    void aFileNamedLikeBase64IsReadAsTheFile() throws Exception {
        byte[] jpeg = DataFixtures.image(10, 10, "jpeg", 6);
        String name = Base64.getEncoder().encodeToString(DataFixtures.image(8, 8, "png", 7)).substring(0, 40).replace('/', 'x');
        assertTrue(Base64Image.isImage(name), "the name alone would pass as a PNG");
        Files.write(tmp.resolve(name), jpeg);
        Path file = Files.writeString(tmp.resolve("named.jsonl"), line("p", "image", name) + "\n");
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertArrayEquals(jpeg, ds.get(0).image());
        }
    }

    @Test
    void onlyBase64ThatStartsWithAnImageSignatureCounts() throws Exception {
        for (byte[] image : images().values()) {
            assertTrue(Base64Image.isImage(Base64.getEncoder().encodeToString(image)));
        }
        for (String notImage : List.of("a.png", "img/cat", "images/train/cat0001/abcdefgh", "", "iVBORw0KGgo",
                Base64.getEncoder().encodeToString(new byte[64]), Base64.getEncoder().encodeToString("BMnot a bitmap header".getBytes()))) {
            assertFalse(Base64Image.isImage(notImage), notImage);
        }
    }
}
