package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
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
            // 50,000 pseudo-random bytes per row (incompressible, like JPEG data)
            st.execute("COPY (SELECT 'bench' AS ds_name, {'bytes': encode((SELECT string_agg(chr(33 + (hash(i * 100003 + j) % 90)::INTEGER), '')"
                    + " FROM range(50000) r(j))), 'path': i || '.jpg'} AS image,"
                    + " '{\"question\": \"question ' || i || '\", \"chosen\": \"good ' || i || '\", \"rejected\": \"bad ' || i || '\"}' AS text,"
                    + " 'bench' AS origin_dataset, 'train' AS origin_split, i AS idx, i || '.jpg' AS image_path FROM range(2000) t(i))"
                    + " TO " + PreferenceDataset.quote(file.toString()) + " (FORMAT PARQUET)");
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
