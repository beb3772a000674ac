package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prints (does not assert) open and batch-fetch times on a synthetic 2,000-row RLHF-V file with 50 KB images. */
class PreferenceDatasetBenchTest {

    @TempDir
    Path tmp;

    @Test
    void openAndFetchTimes() throws Exception {
        Path file = tmp.resolve("bench.parquet");
        long t0 = System.nanoTime();
        try (Connection c = DataFixtures.duck(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(ds_name VARCHAR, image STRUCT(bytes BLOB, path VARCHAR), text VARCHAR,"
                    + " origin_dataset VARCHAR, origin_split VARCHAR, idx BIGINT, image_path VARCHAR)");
            Random rnd = new Random(1);
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO t VALUES ('bench', {'bytes': ?::BLOB, 'path': ?}, ?, 'bench', 'train', ?, ?)")) {
                for (int i = 0; i < 2000; i++) {
                    byte[] image = new byte[50_000];   // incompressible, like JPEG data
                    rnd.nextBytes(image);
                    ps.setBytes(1, image);
                    ps.setString(2, i + ".jpg");
                    ps.setString(3, DataFixtures.json("question " + i, "good " + i, "bad " + i));
                    ps.setLong(4, i);
                    ps.setString(5, i + ".jpg");
                    ps.addBatch();
                    if (i % 100 == 99) ps.executeBatch();
                }
            }
            st.execute("COPY t TO " + PreferenceDataset.quote(file.toString()) + " (FORMAT PARQUET)");
        }
        long written = System.nanoTime();
        System.out.printf("bench: wrote 2000 rows x 50 KB (%.1f MB) in %.0f ms%n", Files.size(file) / 1e6, (written - t0) / 1e6);
        for (int rep = 0; rep < 2; rep++) {
            long o0 = System.nanoTime();
            try (PreferenceDataset ds = PreferenceDataset.open(file)) {
                long o1 = System.nanoTime();
                assertEquals(2000, ds.size());
                int[][] batches = {{1500, 3, 777, 1999, 42, 1000, 250, 1750}, {7}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
                StringBuilder sb = new StringBuilder();
                for (int[] batch : batches) {
                    for (int k = 0; k < 3; k++) {
                        long b0 = System.nanoTime();
                        List<PreferenceExample> got = ds.get(batch);
                        long b1 = System.nanoTime();
                        assertEquals(50_000, got.getFirst().image().length);
                        sb.append(String.format(" %d:%.1f", batch.length, (b1 - b0) / 1e6));
                    }
                }
                System.out.printf("bench: open %.0f ms; batch fetch ms (batch size:ms)%s%n", (o1 - o0) / 1e6, sb);
            }
        }
    }
}
