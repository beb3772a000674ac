package dev.smoldpo.nativelib;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reader of native/tests/goldens/transformers/, the output of transformers' own
 * Idefics3ImageProcessor and load_image (make_transformers_goldens.py).
 */
final class TransformersGoldens {
    private TransformersGoldens() {}

    static Path dir() {
        return Goldens.dir().resolve("transformers");
    }

    /** One line of cases.txt: a processor run and its expected float32 pixel_values. */
    record Case(String name, String source, int srcW, int srcH, boolean doResize, int longestEdge, boolean splitting,
                int tileSize, int rows, int cols, int tiles, String sha256, String valuesFile) {

        PreprocessorConfig config() {
            PreprocessorConfig d = PreprocessorConfig.smolvlm();
            return new PreprocessorConfig(doResize, longestEdge, splitting, tileSize, d.doRescale(), d.rescaleFactor(),
                    d.doNormalize(), d.imageMean(), d.imageStd());
        }

        /** The pixels the processor was given: the raw source, or what load_image made of the encoded file. */
        DecodedImage image() {
            String rgb = source.endsWith(".rgb") ? source : decoded().get(source).rgbFile();
            return DecodedImage.rgb(bytes(rgb), srcW, srcH);
        }

        /** transformers' float32 values, or null when the case is stored only as a hash. */
        float[] values() {
            if (valuesFile.equals("-")) return null;
            ByteBuffer b = ByteBuffer.wrap(bytes(valuesFile)).order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[b.remaining() / 4];
            b.asFloatBuffer().get(v);
            return v;
        }
    }

    /** One line of decoded.txt: an encoded file and load_image's RGB pixels of it. */
    record Decoded(String file, int width, int height, int orientation, String rgbFile) {}

    static List<Case> cases() {
        return lines("cases.txt").stream().map(f -> new Case(f[0], f[1], i(f[2]), i(f[3]), f[4].equals("1"), i(f[5]),
                f[6].equals("1"), i(f[7]), i(f[8]), i(f[9]), i(f[10]), f[11], f[12])).toList();
    }

    static Map<String, Decoded> decoded() {
        return lines("decoded.txt").stream().map(f -> new Decoded(f[0], i(f[1]), i(f[2]), i(f[3]), f[4]))
                .collect(Collectors.toMap(Decoded::file, d -> d));
    }

    static byte[] bytes(String file) {
        try {
            return Files.readAllBytes(dir().resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SHA-256 of float32 values written little-endian, as the generator hashes numpy's '<f4' bytes. */
    static String sha256(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String[]> lines(String file) {
        try {
            return Files.readAllLines(dir().resolve(file)).stream()
                    .filter(l -> !l.isBlank() && !l.startsWith("#"))
                    .map(l -> l.trim().split("\\s+"))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int i(String s) {
        return Integer.parseInt(s);
    }
}
