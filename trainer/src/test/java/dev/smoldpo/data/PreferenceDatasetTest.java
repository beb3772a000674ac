package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.data.DataFixtures.RlhfvRow;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreferenceDatasetTest {

    @TempDir
    Path tmp;

    @Test
    void rlhfvParquetReadsBackExactly() throws Exception {
        int[][] sizes = {{17, 9}, {64, 64}, {320, 240}, {1, 1}, {640, 480}, {33, 200}, {448, 448}, {100, 37}};
        List<RlhfvRow> rows = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            byte[] img = DataFixtures.image(sizes[i][0], sizes[i][1], i % 2 == 0 ? "jpeg" : "png", i);
            rows.add(RlhfvRow.of(1000 + i, "Describe image " + i + " \"quoted\"\nin detail.", "Chosen answer " + i + " ünïcödé",
                    "Rejected answer " + i, img));
        }
        Path file = DataFixtures.writeRlhfv(tmp.resolve("RLHF-V-Dataset.parquet"), rows);
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(PreferenceDataset.Format.RLHF_V_PARQUET, ds.format());
            assertTrue(ds.hasImages());
            assertEquals(rows.size(), ds.size());
            assertTrue(ds.skipped().isEmpty(), ds.skipped().summary());
            for (int i = 0; i < rows.size(); i++) {
                PreferenceExample e = ds.get(i);
                assertEquals(String.valueOf(1000 + i), e.id());
                assertEquals(i, e.sourceRow());
                assertEquals("Describe image " + i + " \"quoted\"\nin detail.", e.promptText());
                assertEquals("Chosen answer " + i + " ünïcödé", e.chosenText());
                assertEquals("Rejected answer " + i, e.rejectedText());
                assertArrayEquals(rows.get(i).imageBytes(), e.image());
                ImageCheck check = ImageCheck.decode(e.image());
                assertTrue(check.ok(), check.detail());
                assertEquals(sizes[i][0], check.image().orElseThrow().width());
                assertEquals(sizes[i][1], check.image().orElseThrow().height());
            }
            int[] order = {5, 0, 7, 3, 3, 1};
            List<PreferenceExample> batch = ds.get(order);
            assertEquals(order.length, batch.size());
            for (int k = 0; k < order.length; k++) {
                assertEquals(String.valueOf(1000 + order[k]), batch.get(k).id());
                assertArrayEquals(rows.get(order[k]).imageBytes(), batch.get(k).image());
                assertEquals(ds.get(order[k]), batch.get(k));
            }
            assertEquals(List.of(), ds.get(new int[0]));
            assertThrows(IndexOutOfBoundsException.class, () -> ds.get(rows.size()));
        }
        // a folder holding the one parquet file opens too
        try (PreferenceDataset ds = PreferenceDataset.open(tmp)) {
            assertEquals(rows.size(), ds.size());
        }
    }

    @Test
    void corruptedRowsAreSkippedAndCounted() throws Exception {
        byte[] good = DataFixtures.image(40, 30, "png", 1);
        byte[] garbage = new byte[500];
        new Random(3).nextBytes(garbage);
        List<RlhfvRow> rows = List.of(
                RlhfvRow.of(0, "q0", "yes", "no", good),                               // 0 ok
                new RlhfvRow(1, "{\"question\": \"q1\", \"chosen\": ", good, true),      // 1 bad json
                RlhfvRow.of(2, "q2", "   ", "no", good),                                // 2 empty chosen
                RlhfvRow.of(3, "q3", " same answer ", "same answer", good),             // 3 identical
                RlhfvRow.of(4, "q4", "yes", "no", null),                                // 4 no image struct
                RlhfvRow.of(5, "q5", "yes", "no", garbage),                             // 5 undecodable: kept here
                new RlhfvRow(6, "{\"chosen\": \"a\", \"rejected\": \"b\"}", good, true), // 6 missing question
                new RlhfvRow(7, "[1, 2]", good, true),                                  // 7 not an object
                new RlhfvRow(8, null, good, true),                                      // 8 null text
                RlhfvRow.of(9, "", "yes", "no", good),                                  // 9 empty question
                new RlhfvRow(10, DataFixtures.json("q10", "yes", "no"), null, true),    // 10 {bytes: NULL}
                RlhfvRow.of(11, "q11", "fine", "worse", good),                          // 11 ok
                RlhfvRow.of(12, "q12", "a", "", good));                                 // 12 empty rejected
        Path file = DataFixtures.writeRlhfv(tmp.resolve("bad.parquet"), rows);
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(3, ds.size());
            SkipReport s = ds.skipped();
            assertEquals(Map.of(SkipReport.BAD_JSON, 2L, SkipReport.EMPTY_CHOSEN, 1L, SkipReport.IDENTICAL_ANSWERS, 1L,
                    SkipReport.MISSING_IMAGE, 2L, SkipReport.MISSING_QUESTION, 1L, SkipReport.MISSING_TEXT, 1L,
                    SkipReport.EMPTY_QUESTION, 1L, SkipReport.EMPTY_REJECTED, 1L), s.counts());
            assertEquals(List.of(1L, 7L), s.examples().get(SkipReport.BAD_JSON));
            assertEquals(List.of(4L, 10L), s.examples().get(SkipReport.MISSING_IMAGE));
            assertEquals(10, s.total());
            System.out.println("corrupted file: " + s.summary());

            // the trainer's side: decode each image and add what fails to its own report
            SkipReport.Builder trainer = SkipReport.builder().addAll(s);
            List<Long> kept = new ArrayList<>();
            for (PreferenceExample e : ds.get(new int[] {0, 1, 2})) {
                ImageCheck check = ImageCheck.decode(e.image());
                if (check.ok()) kept.add(e.sourceRow());
                else trainer.add(check.reason(), e.sourceRow());
            }
            assertEquals(List.of(0L, 11L), kept);
            SkipReport all = trainer.build();
            assertEquals(1, all.count(SkipReport.UNDECODABLE_IMAGE));
            assertEquals(List.of(5L), all.examples().get(SkipReport.UNDECODABLE_IMAGE));
            assertEquals(11, all.total());
            Map<String, Object> map = all.toMap();
            assertEquals(11L, map.get("total"));
            assertTrue(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(map).contains("\"undecodable_image\":1"));
        }
        assertEquals(SkipReport.MISSING_IMAGE, ImageCheck.decode(new byte[0]).reason());
        assertEquals(SkipReport.MISSING_IMAGE, ImageCheck.decode(null).reason());
        byte[] truncatedHeader = java.util.Arrays.copyOf(good, 20);
        assertEquals(SkipReport.UNDECODABLE_IMAGE, ImageCheck.decode(truncatedHeader).reason());
    }

    @Test
    void skipReportBuilderIsThreadSafe() throws Exception {
        SkipReport.Builder b = SkipReport.builder();
        Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++) {
            int base = t * 1000;
            threads[t] = new Thread(() -> {
                for (int i = 0; i < 1000; i++) b.add(i % 2 == 0 ? "a" : "b", base + i);
            });
            threads[t].start();
        }
        for (Thread t : threads) t.join();
        SkipReport r = b.build();
        assertEquals(2000, r.count("a"));
        assertEquals(2000, r.count("b"));
        assertEquals(List.of(0L, 2L, 4L, 6L, 8L), r.examples().get("a"));
        assertEquals(r.merge(r).count("a"), 4000);
    }

    @Test
    void genericParquetWithBlobPathAndStructImages() throws Exception {
        byte[] a = DataFixtures.image(20, 10, "png", 1), b = DataFixtures.image(30, 30, "jpeg", 2);
        Files.createDirectories(tmp.resolve("imgs"));
        Files.write(tmp.resolve("imgs/b.jpg"), b);
        Path blob = tmp.resolve("blob.parquet"), paths = tmp.resolve("paths.parquet"), struct = tmp.resolve("struct.parquet");
        try (Connection c = DataFixtures.duck(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(id VARCHAR, prompt VARCHAR, chosen VARCHAR, rejected VARCHAR, image BLOB)");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO t VALUES (?, ?, ?, ?, ?)")) {
                Object[][] rows = {{"x1", "p1", "c1", "r1", a}, {"x2", "p2", "c2", "r2", b}, {"x3", "p3", "c3", "r3", null}};
                for (Object[] row : rows) {
                    for (int k = 0; k < 5; k++) ps.setObject(k + 1, row[k]);
                    ps.executeUpdate();
                }
            }
            st.execute("COPY t TO " + PreferenceDataset.quote(blob.toString()) + " (FORMAT PARQUET)");
            st.execute("COPY (SELECT prompt AS question, chosen, rejected, CASE id WHEN 'x2' THEN 'imgs/b.jpg'"
                    + " WHEN 'x1' THEN " + PreferenceDataset.quote(tmp.resolve("imgs/b.jpg").toString())
                    + " ELSE 'imgs/none.jpg' END AS image FROM t) TO " + PreferenceDataset.quote(paths.toString()) + " (FORMAT PARQUET)");
            st.execute("COPY (SELECT prompt, chosen, rejected, {'bytes': CASE WHEN id = 'x2' THEN NULL ELSE image END,"
                    + " 'path': 'imgs/b.jpg'} AS image FROM t) TO " + PreferenceDataset.quote(struct.toString()) + " (FORMAT PARQUET)");
        }
        try (PreferenceDataset ds = PreferenceDataset.open(blob)) {
            assertEquals(PreferenceDataset.Format.GENERIC_PARQUET, ds.format());
            assertEquals(2, ds.size());
            assertEquals(1, ds.skipped().count(SkipReport.MISSING_IMAGE));
            List<PreferenceExample> got = ds.get(new int[] {1, 0});
            assertEquals("x2", got.get(0).id());
            assertArrayEquals(b, got.get(0).image());
            assertEquals("p1", got.get(1).promptText());
            assertArrayEquals(a, got.get(1).image());
        }
        try (PreferenceDataset ds = PreferenceDataset.open(paths)) {
            assertEquals(2, ds.size());          // x3's path names no file
            assertEquals(List.of(2L), ds.skipped().examples().get(SkipReport.MISSING_IMAGE));
            assertArrayEquals(b, ds.get(0).image());  // absolute path
            assertArrayEquals(b, ds.get(1).image());  // relative to the parquet's folder
            assertEquals("0", ds.get(0).id());
        }
        try (PreferenceDataset ds = PreferenceDataset.open(struct)) {
            assertEquals(3, ds.size());          // x2 and x3: bytes NULL, but the struct's path names a file
            assertTrue(ds.skipped().isEmpty());
            assertArrayEquals(a, ds.get(0).image());
            assertArrayEquals(b, ds.get(1).image());
            assertArrayEquals(b, ds.get(2).image());
        }
    }

    @Test
    void jsonlWithPathsAndBase64() throws Exception {
        byte[] a = DataFixtures.image(12, 12, "png", 5), b = DataFixtures.image(25, 14, "jpeg", 6);
        Files.createDirectories(tmp.resolve("img"));
        Files.write(tmp.resolve("img/a.png"), a);
        String b64 = Base64.getEncoder().encodeToString(b);
        String lines = String.join("\n",
                "{\"id\": 7, \"prompt\": \"p0\", \"chosen\": \"c0\", \"rejected\": \"r0\", \"image\": \"img/a.png\"}",
                "{\"question\": \"p1\", \"chosen\": \"c1\", \"rejected\": \"r1\", \"image_base64\": \"data:image/jpeg;base64," + b64 + "\"}",
                "{not json",
                "",
                "{\"prompt\": \"p4\", \"rejected\": \"r4\", \"image\": \"img/a.png\"}",
                "{\"prompt\": \"p5\", \"chosen\": \"c5\", \"rejected\": \"r5\"}",
                "{\"prompt\": \"p6\", \"chosen\": \"c6\", \"rejected\": \"r6\", \"image_path\": \"img/a.png\"}\r",
                "{\"prompt\": \"p7\", \"chosen\": \"c7\", \"rejected\": \"r7\", \"image_base64\": \"" + b64 + "\"}");
        Path file = Files.writeString(tmp.resolve("pairs.jsonl"), lines + "\n", StandardCharsets.UTF_8);
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(PreferenceDataset.Format.JSONL, ds.format());
            assertTrue(ds.hasImages());
            assertEquals(4, ds.size());
            assertEquals(Map.of(SkipReport.BAD_JSON, 1L, SkipReport.MISSING_CHOSEN, 1L, SkipReport.MISSING_IMAGE, 1L),
                    ds.skipped().counts());
            assertEquals(List.of(5L), ds.skipped().examples().get(SkipReport.MISSING_IMAGE));
            List<PreferenceExample> got = ds.get(new int[] {3, 2, 1, 0});
            assertEquals("p7", got.get(0).promptText());
            assertArrayEquals(b, got.get(0).image());
            assertEquals(7, got.get(0).sourceRow());
            assertArrayEquals(a, got.get(1).image());
            assertArrayEquals(b, got.get(2).image());
            assertEquals("p1", got.get(2).promptText());
            assertEquals("7", got.get(3).id());
            assertArrayEquals(a, got.get(3).image());
        }
        // no image key anywhere: text-only pairs
        Path text = Files.writeString(tmp.resolve("text.jsonl"),
                "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \"q\", \"chosen\": \"d\", \"rejected\": \"s\"}");
        try (PreferenceDataset ds = PreferenceDataset.open(text)) {
            assertFalse(ds.hasImages());
            assertEquals(2, ds.size());
            assertNull(ds.get(1).image());
            assertEquals("s", ds.get(1).rejectedText());
        }
    }

    @Test
    void clearErrors() throws Exception {
        Path missing = tmp.resolve("nope.parquet");
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(missing));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("no such file"), e.getMessage());

        Path odd = tmp.resolve("odd.parquet");
        try (Connection c = DataFixtures.duck(); Statement st = c.createStatement()) {
            st.execute("COPY (SELECT 1 AS alpha, 'x' AS beta, 2.5 AS gamma) TO " + PreferenceDataset.quote(odd.toString()) + " (FORMAT PARQUET)");
        }
        e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(odd));
        System.out.println("unknown schema: " + e.getMessage());
        assertTrue(e.getMessage().contains(odd.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("no known schema"), e.getMessage());
        for (String col : new String[] {"alpha", "beta", "gamma"}) assertTrue(e.getMessage().contains(col), e.getMessage());

        Path allBad = DataFixtures.writeRlhfv(tmp.resolve("allbad.parquet"),
                List.of(RlhfvRow.of(0, "q", "same", "same", new byte[] {1}), new RlhfvRow(1, "{oops", new byte[] {1}, true)));
        e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(allBad));
        System.out.println("all skipped: " + e.getMessage());
        assertTrue(e.getMessage().contains("no usable") && e.getMessage().contains("identical_answers=1")
                && e.getMessage().contains("bad_json=1"), e.getMessage());

        Path notParquet = Files.writeString(tmp.resolve("fake.parquet"), "hello");
        e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(notParquet));
        assertTrue(e.getMessage().contains(notParquet.toString()), e.getMessage());

        Path csv = Files.writeString(tmp.resolve("data.csv"), "a,b");
        e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(csv));
        assertTrue(e.getMessage().contains("unknown dataset format"), e.getMessage());
    }
}
