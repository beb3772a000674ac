package dev.smoldpo.nativelib;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reader of the PIL goldens made by native/tests/goldens/make_goldens.py. */
final class Goldens {
    private Goldens() {}

    static Path dir() {
        return Path.of(System.getProperty("smoldpo.goldens.dir", "../native/tests/goldens"));
    }

    record Resize(String name, int srcW, int srcH, int channels, int dstW, int dstH, byte[] src, byte[] dst) {
        DecodedImage image() {
            return channels == 4 ? DecodedImage.rgba(src, srcW, srcH) : DecodedImage.rgb(src, srcW, srcH);
        }
    }

    record Processor(String name, int srcW, int srcH, int channels, int longestEdge, int tileSize, boolean splitting,
                     int rows, int cols, int tileCount, int resizedW, int resizedH, int splitW, int splitH,
                     int canvasH, int canvasW, byte[] src, byte[] tiles) {
        DecodedImage image() {
            return channels == 4 ? DecodedImage.rgba(src, srcW, srcH) : DecodedImage.rgb(src, srcW, srcH);
        }

        PreprocessorConfig config() {
            return PreprocessorConfig.smolvlm().withLongestEdge(longestEdge).withTileSize(tileSize).withImageSplitting(splitting);
        }
    }

    static List<Resize> resizes() {
        List<Resize> out = new ArrayList<>();
        for (int i = 0; ; i++) {
            Path p = dir().resolve(String.format("resize_%02d.bin", i));
            if (!Files.exists(p)) return out;
            ByteBuffer b = read(p, "SDRZ");
            int w = b.getInt(), h = b.getInt(), c = b.getInt(), dw = b.getInt(), dh = b.getInt();
            byte[] src = new byte[w * h * c], dst = new byte[dw * dh * 3];
            b.get(src).get(dst);
            out.add(new Resize(p.getFileName().toString(), w, h, c, dw, dh, src, dst));
        }
    }

    static List<Processor> processors() {
        List<Processor> out = new ArrayList<>();
        for (int i = 0; ; i++) {
            Path p = dir().resolve(String.format("processor_%02d.bin", i));
            if (!Files.exists(p)) return out;
            ByteBuffer b = read(p, "SDPP");
            int[] h = new int[15];
            for (int k = 0; k < 15; k++) h[k] = b.getInt();
            byte[] src = new byte[h[0] * h[1] * h[2]];
            byte[] tiles = new byte[h[8] * 3 * h[13] * h[14]];
            b.get(src).get(tiles);
            out.add(new Processor(p.getFileName().toString(), h[0], h[1], h[2], h[3], h[4], h[5] != 0, h[6], h[7], h[8],
                    h[9], h[10], h[11], h[12], h[13], h[14], src, tiles));
        }
    }

    /** grids.txt rows: src_w src_h longest tile resized_w resized_h split_w split_h rows cols */
    static List<int[]> grids() {
        try {
            return Files.readAllLines(dir().resolve("grids.txt")).stream()
                    .filter(l -> !l.isBlank() && !l.startsWith("#"))
                    .map(l -> Arrays.stream(l.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray())
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ByteBuffer read(Path p, String magic) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
            byte[] m = new byte[4];
            b.get(m);
            if (!new String(m).equals(magic)) throw new IllegalStateException(p + ": bad magic");
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
