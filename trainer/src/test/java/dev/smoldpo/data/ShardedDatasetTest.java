package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.data.DataFixtures.RlhfvRow;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Folders as the hub stores datasets: one split's parquet shards read as one dataset; several splits read as train. */
class ShardedDatasetTest {

    @TempDir
    Path tmp;

    /** Rows idx from..from+n-1; the row with idx {@code brokenIdx} has no text (skipped as missing_text). */
    private static List<RlhfvRow> rows(int from, int n, int brokenIdx) {
        List<RlhfvRow> rows = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            byte[] img = DataFixtures.image(8 + i, 8, "png", i);
            rows.add(i == brokenIdx ? new RlhfvRow(i, null, img, true) : RlhfvRow.of(i, "question " + i, "chosen " + i, "rejected " + i, img));
        }
        return rows;
    }

    private Path hubSnapshot() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("snapshot/data"));
        // shard sizes 3, 2, 4; row 6 (the third shard's second row) has no text
        DataFixtures.writeRlhfv(data.resolve("train-00000-of-00003.parquet"), rows(0, 3, -1));
        DataFixtures.writeRlhfv(data.resolve("train-00001-of-00003.parquet"), rows(3, 2, -1));
        DataFixtures.writeRlhfv(data.resolve("train-00002-of-00003.parquet"), rows(5, 4, 6));
        DataFixtures.writeRlhfv(data.resolve("test-00000-of-00001.parquet"), rows(100, 2, -1));
        Files.writeString(tmp.resolve("snapshot/README.md"), "# a dataset card\n");
        return tmp.resolve("snapshot");
    }

    @Test
    void theTrainShardsOfAHubSnapshotReadAsOneDatasetWithRowsNumberedOnAcrossShards() throws Exception {
        Path snapshot = hubSnapshot();
        try (PreferenceDataset ds = PreferenceDataset.open(snapshot)) {
            assertEquals(8, ds.size(), "9 train rows, one without text; the test split is not read");
            assertEquals("train", ds.files().split());
            assertEquals(List.of("test"), ds.files().others());
            assertEquals(3, ds.files().shards().size());
            assertTrue(ds.files().describe().startsWith("split train (3 shards; test not read"), ds.files().describe());
            assertEquals(snapshot.toAbsolutePath().normalize(), ds.file());
            assertEquals(1, ds.skipped().count(SkipReport.MISSING_TEXT));
            assertEquals(List.of(6L), ds.skipped().examples().get(SkipReport.MISSING_TEXT), "the row number within the dataset");
            long[] expectedRows = {0, 1, 2, 3, 4, 5, 7, 8};
            for (int i = 0; i < ds.size(); i++) {
                assertEquals(expectedRows[i], ds.sourceRow(i));
                PreferenceExample e = ds.get(i);
                long idx = expectedRows[i];
                assertEquals(String.valueOf(idx), e.id(), "shard order, then row order");
                assertEquals("question " + idx, e.promptText());
                assertArrayEquals(DataFixtures.image(8 + (int) idx, 8, "png", idx), e.image(), "the image of row " + idx);
            }
            // one batch across all three shards, out of order: each image from its own shard
            int[] order = {7, 0, 4, 3, 6};
            List<PreferenceExample> batch = ds.get(order);
            for (int k = 0; k < order.length; k++) {
                long idx = expectedRows[order[k]];
                assertEquals(String.valueOf(idx), batch.get(k).id());
                assertArrayEquals(DataFixtures.image(8 + (int) idx, 8, "png", idx), batch.get(k).image());
            }
        }
        // the data/ folder itself, and a split's folder named by the user, read the same way
        try (PreferenceDataset ds = PreferenceDataset.open(snapshot.resolve("data"))) {
            assertEquals(8, ds.size());
        }
    }

    @Test
    void aFolderOfOneSplitsShardsNeedsNoSplitChoice() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("only-train"));
        DataFixtures.writeRlhfv(data.resolve("train-00000-of-00002-3f2a1b.parquet"), rows(0, 2, -1));
        DataFixtures.writeRlhfv(data.resolve("train-00001-of-00002-3f2a1b.parquet"), rows(2, 2, -1));
        try (PreferenceDataset ds = PreferenceDataset.open(data)) {
            assertEquals(4, ds.size());
            assertNull(ds.files().split());
            assertEquals("2 shards", ds.files().describe());
            assertEquals("3", ds.get(3).id());
        }
    }

    @Test
    void theParquetConversionLayoutReadsItsTrainFolder() throws Exception {
        Path root = tmp.resolve("converted/default");
        DataFixtures.writeRlhfv(Files.createDirectories(root.resolve("train")).resolve("0000.parquet"), rows(0, 2, -1));
        DataFixtures.writeRlhfv(root.resolve("train/0001.parquet"), rows(2, 3, -1));
        DataFixtures.writeRlhfv(Files.createDirectories(root.resolve("validation")).resolve("0000.parquet"), rows(50, 1, -1));
        try (PreferenceDataset ds = PreferenceDataset.open(tmp.resolve("converted"))) {
            assertEquals(5, ds.size());
            assertEquals("train", ds.files().split());
            assertEquals(List.of("validation"), ds.files().others());
            assertEquals(4, ds.sourceRow(4));
        }
    }

    @Test
    void unrelatedFilesStillAskTheUserToNameOne() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("mixed"));
        DataFixtures.writeRlhfv(data.resolve("cats.parquet"), rows(0, 2, -1));
        DataFixtures.writeRlhfv(data.resolve("dogs.parquet"), rows(0, 2, -1));
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(data));
        assertEquals("dataset " + data.toAbsolutePath().normalize() + ": folder holds several dataset files, name one: "
                + "[cats.parquet, dogs.parquet]", e.getMessage());
    }

    @Test
    void aSplitWithAShardMissingIsAnInterruptedDownloadNotASmallerDataset() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("partial"));
        DataFixtures.writeRlhfv(data.resolve("train-00000-of-00003.parquet"), rows(0, 2, -1));
        DataFixtures.writeRlhfv(data.resolve("train-00002-of-00003.parquet"), rows(2, 2, -1));
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(data));
        assertTrue(e.getMessage().contains("split train has 3 shards but shard(s) [1] are missing"), e.getMessage());
        assertTrue(e.getMessage().contains("download the dataset again"), e.getMessage());
    }

    @Test
    void shardsWithDifferentColumnsAreRefusedNamingTheShard() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("drift"));
        DataFixtures.writeRlhfv(data.resolve("train-00000-of-00002.parquet"), rows(0, 2, -1));
        Path other = data.resolve("train-00001-of-00002.parquet");
        try (Connection c = DataFixtures.duck(); Statement st = c.createStatement()) {
            st.execute("COPY (SELECT 'q' AS prompt, 'a' AS chosen, 'b' AS rejected) TO "
                    + PreferenceDataset.quote(other.toString()) + " (FORMAT PARQUET)");
        }
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(data));
        assertTrue(e.getMessage().startsWith("dataset " + other.toAbsolutePath().normalize() + ": its columns differ from those of "
                + "train-00000-of-00002.parquet"), e.getMessage());
        assertTrue(e.getMessage().contains("[prompt VARCHAR, chosen VARCHAR, rejected VARCHAR]"), e.getMessage());
    }

    @Test
    void splitNamesFollowTheHubsFileNames() {
        assertEquals("train", DatasetFiles.splitName(Path.of("data/train-00000-of-00003.parquet")));
        assertEquals("test", DatasetFiles.splitName(Path.of("data/test-00000-of-00001-a1b2c3d4.parquet")));
        assertEquals("train_prefs", DatasetFiles.splitName(Path.of("data/train_prefs-00001-of-00002.parquet")));
        assertEquals("validation", DatasetFiles.splitName(Path.of("default/validation/0000.parquet")));
        assertEquals("train", DatasetFiles.splitName(Path.of("train.jsonl")));
    }
}
