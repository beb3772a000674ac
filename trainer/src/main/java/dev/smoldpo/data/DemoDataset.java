package dev.smoldpo.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * The built-in demo task, generated deterministically from a seed: each pair is a small PNG of one
 * filled shape (circle, square or triangle, random position and size) in one of
 * {@link #COLOURS} on a light background, the question {@value #QUESTION}, and answers that differ
 * only in the colour word ({@code "It is red."} vs {@code "It is blue."}).
 *
 * <p>Balance: pairs come in blocks of K (one per true colour, in a seeded colour order); within a
 * block the rejected colour is the chosen one shifted by the same offset, and the offset cycles
 * through 1..K-1 from block to block. So every colour is chosen and rejected equally often (± 1),
 * and each ordered (chosen, rejected) colour pair occurs as often as its reverse (± 1 block): text
 * alone cannot beat chance, only the image can. With {@code blankImages} every image is the same
 * blank background (the ablation: accuracy should stay at chance).
 *
 * <p>The file has the RLHF-V schema (written by DuckDB), so it goes through the same reader as the
 * real data.
 */
public final class DemoDataset {

    public static final String QUESTION = "What colour is the shape?";
    public static final List<String> COLOURS = List.of("red", "green", "blue", "yellow", "purple", "orange");
    public static final List<String> SHAPES = List.of("circle", "square", "triangle");
    public static final int DEFAULT_SIZE = 512;
    public static final int IMAGE_SIZE = 64;

    private static final Color[] RGB = {
        new Color(220, 30, 30), new Color(30, 160, 50), new Color(30, 70, 220),
        new Color(240, 210, 20), new Color(140, 40, 180), new Color(250, 140, 20)};
    private static final Color BACKGROUND = new Color(245, 245, 240);

    private DemoDataset() {
    }

    /**
     * One generated pair.
     *
     * @param shape          the shape drawn (one of {@link #SHAPES})
     * @param colour         the true colour (the chosen answer's word)
     * @param rejectedColour the other colour (the rejected answer's word)
     * @param png            the encoded image
     */
    public record Pair(int index, String shape, String colour, String rejectedColour, byte[] png) {
        public String question() {
            return QUESTION;
        }

        public String chosen() {
            return answer(colour);
        }

        public String rejected() {
            return answer(rejectedColour);
        }
    }

    /** The answer naming {@code colour}. */
    public static String answer(String colour) {
        return "It is " + colour + ".";
    }

    /** Generates {@code n} pairs with all {@link #COLOURS}. */
    public static List<Pair> generate(int n, long seed, boolean blankImages) {
        return generate(n, seed, blankImages, COLOURS.size());
    }

    /** Generates {@code n} pairs with the first {@code k} (2..6) colours. */
    public static List<Pair> generate(int n, long seed, boolean blankImages, int k) {
        if (n < 1) throw new IllegalArgumentException("demo size " + n);
        if (k < 2 || k > COLOURS.size()) throw new IllegalArgumentException("colours " + k + " not in 2.." + COLOURS.size());
        Shuffle rng = new Shuffle(Shuffle.mix(seed, 0xDE70L));
        int[] colourOrder = new int[k];
        for (int i = 0; i < k; i++) colourOrder[i] = i;
        rng.shuffle(colourOrder);
        int[] chosen = new int[n], rejected = new int[n];
        for (int i = 0; i < n; i++) {
            int block = i / k, pos = i % k, offset = 1 + block % (k - 1);
            chosen[i] = colourOrder[pos];
            rejected[i] = colourOrder[(pos + offset) % k];
        }
        int[] rowOrder = new int[n];
        for (int i = 0; i < n; i++) rowOrder[i] = i;
        rng.shuffle(rowOrder);
        byte[] blank = blankImages ? png(blankImage()) : null;
        List<Pair> pairs = new ArrayList<>(n);
        for (int row = 0; row < n; row++) {
            int src = rowOrder[row];
            Shuffle r = new Shuffle(Shuffle.mix(seed, 0x5A4EL, row));
            int shape = r.nextInt(SHAPES.size());
            int size = 18 + r.nextInt(IMAGE_SIZE / 2 - 8);          // 18..41 px
            int x = r.nextInt(IMAGE_SIZE - size + 1), y = r.nextInt(IMAGE_SIZE - size + 1);
            byte[] bytes = blankImages ? blank : png(draw(shape, RGB[chosen[src]], x, y, size));
            pairs.add(new Pair(row, SHAPES.get(shape), COLOURS.get(chosen[src]), COLOURS.get(rejected[src]), bytes));
        }
        return pairs;
    }

    /** Writes the default demo ({@value #DEFAULT_SIZE} pairs, seed 0, real images). */
    public static Path write(Path file) {
        return write(file, DEFAULT_SIZE, 0, false);
    }

    /**
     * Writes {@code n} generated pairs as a parquet file with the RLHF-V schema ({@code ds_name},
     * {@code image {bytes, path}}, {@code text} JSON, {@code origin_dataset}, {@code origin_split},
     * {@code idx}, {@code image_path}); atomically (temp file + rename). Same arguments, same bytes.
     */
    public static Path write(Path file, int n, long seed, boolean blankImages) {
        List<Pair> pairs = generate(n, seed, blankImages);
        Path abs = file.toAbsolutePath().normalize();
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        ObjectMapper json = new ObjectMapper();
        try {
            Files.createDirectories(abs.getParent());
            Class.forName("org.duckdb.DuckDBDriver");
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
                st.execute("SET threads = 1");
                st.execute("CREATE TABLE demo(ds_name VARCHAR, image STRUCT(bytes BLOB, path VARCHAR), text VARCHAR,"
                        + " origin_dataset VARCHAR, origin_split VARCHAR, idx BIGINT, image_path VARCHAR)");
                String dsName = blankImages ? "smoldpo_demo_colours_blank" : "smoldpo_demo_colours";
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO demo VALUES (?, {'bytes': ?::BLOB, 'path': ?}, ?, ?, ?, ?, ?)")) {
                    for (Pair p : pairs) {
                        String path = String.format("demo/%06d.png", p.index());
                        Map<String, String> text = new LinkedHashMap<>();
                        text.put("question", p.question());
                        text.put("chosen", p.chosen());
                        text.put("rejected", p.rejected());
                        ps.setString(1, dsName);
                        ps.setBytes(2, p.png());
                        ps.setString(3, path);
                        ps.setString(4, json.writeValueAsString(text));
                        ps.setString(5, "smoldpo-demo");
                        ps.setString(6, "train");
                        ps.setLong(7, p.index());
                        ps.setString(8, path);
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
                st.execute("COPY (SELECT * FROM demo ORDER BY idx) TO " + PreferenceDataset.quote(tmp.toString())
                        + " (FORMAT PARQUET)");
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return abs;
        } catch (SQLException | ClassNotFoundException | JsonProcessingException e) {
            throw new IllegalStateException("cannot write demo dataset " + abs + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write demo dataset " + abs, e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    private static BufferedImage blankImage() {
        BufferedImage img = new BufferedImage(IMAGE_SIZE, IMAGE_SIZE, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = img.createGraphics();
        try {
            g.setColor(BACKGROUND);
            g.fillRect(0, 0, IMAGE_SIZE, IMAGE_SIZE);
        } finally {
            g.dispose();
        }
        return img;
    }

    private static BufferedImage draw(int shape, Color colour, int x, int y, int size) {
        BufferedImage img = blankImage();
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
            g.setColor(colour);
            switch (shape) {
                case 0 -> g.fillOval(x, y, size, size);
                case 1 -> g.fillRect(x, y, size, size);
                default -> g.fillPolygon(new int[] {x + size / 2, x, x + size}, new int[] {y, y + size, y + size}, 3);
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    private static byte[] png(BufferedImage img) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, "png", out)) throw new IllegalStateException("no PNG writer");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Counts of each colour as chosen and as rejected: {@code int[2][k]}. */
    static int[][] balance(List<Pair> pairs) {
        int[][] counts = new int[2][COLOURS.size()];
        for (Pair p : pairs) {
            counts[0][COLOURS.indexOf(p.colour())]++;
            counts[1][COLOURS.indexOf(p.rejectedColour())]++;
        }
        return counts;
    }

    static String describe(int[][] counts) {
        return "chosen " + Arrays.toString(counts[0]) + ", rejected " + Arrays.toString(counts[1]);
    }
}
