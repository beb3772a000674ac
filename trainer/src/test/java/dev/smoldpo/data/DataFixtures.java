package dev.smoldpo.data;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;

/** Test files: encoded images and RLHF-V-schema parquet files written through DuckDB. */
final class DataFixtures {

    private DataFixtures() {
    }

    /** One RLHF-V row; {@code imageBytes} null with {@code imageStruct} true gives {bytes: NULL, path}. */
    record RlhfvRow(long idx, String text, byte[] imageBytes, boolean imageStruct) {
        static RlhfvRow of(long idx, String q, String c, String r, byte[] image) {
            return new RlhfvRow(idx, json(q, c, r), image, image != null);
        }
    }

    static String json(String q, String c, String r) {
        return "{\"question\": " + str(q) + ", \"chosen\": " + str(c) + ", \"rejected\": " + str(r) + "}";
    }

    private static String str(String s) {
        return s == null ? "null" : '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
    }

    static Connection duck() throws SQLException {
        return DriverManager.getConnection("jdbc:duckdb:");
    }

    static Path writeRlhfv(Path file, List<RlhfvRow> rows) throws SQLException {
        try (Connection c = duck(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(ds_name VARCHAR, image STRUCT(bytes BLOB, path VARCHAR), text VARCHAR,"
                    + " origin_dataset VARCHAR, origin_split VARCHAR, idx BIGINT, image_path VARCHAR)");
            try (PreparedStatement withImage = c.prepareStatement(
                    "INSERT INTO t VALUES ('rlhf-v', {'bytes': ?::BLOB, 'path': ?}, ?, 'VQA', 'train', ?, ?)");
                 PreparedStatement noImage = c.prepareStatement(
                    "INSERT INTO t VALUES ('rlhf-v', NULL, ?, 'VQA', 'train', ?, ?)")) {
                for (RlhfvRow r : rows) {
                    String path = "RLHF-V-Hall/" + r.idx() + ".jpg";
                    if (r.imageStruct()) {
                        if (r.imageBytes() == null) withImage.setNull(1, Types.BLOB); else withImage.setBytes(1, r.imageBytes());
                        withImage.setString(2, path);
                        withImage.setString(3, r.text());
                        withImage.setLong(4, r.idx());
                        withImage.setString(5, path);
                        withImage.executeUpdate();
                    } else {
                        noImage.setString(1, r.text());
                        noImage.setLong(2, r.idx());
                        noImage.setString(3, path);
                        noImage.executeUpdate();
                    }
                }
            }
            st.execute("COPY (SELECT * FROM t) TO " + PreferenceDataset.quote(file.toString()) + " (FORMAT PARQUET)");
        }
        return file;
    }

    /** A noisy gradient image of the given size, encoded as "jpeg" or "png". */
    static byte[] image(int w, int h, String format, long seed) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        Random r = new Random(seed);
        Graphics2D g = img.createGraphics();
        for (int y = 0; y < h; y += 4) {
            for (int x = 0; x < w; x += 4) {
                g.setColor(new Color((x * 255 / Math.max(1, w) + r.nextInt(40)) % 256, (y * 255 / Math.max(1, h)) % 256, r.nextInt(256)));
                g.fillRect(x, y, 4, 4);
            }
        }
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, format, out)) throw new IllegalStateException("no writer for " + format);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
