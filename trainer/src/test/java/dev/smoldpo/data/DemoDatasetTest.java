package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.DecodedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoDatasetTest {

    @TempDir
    Path tmp;

    @Test
    void coloursAreBalanced() {
        for (int n : new int[] {512, 100, 7, 1}) {
            List<DemoDataset.Pair> pairs = DemoDataset.generate(n, 9, false);
            int[][] counts = DemoDataset.balance(pairs);
            System.out.println("demo n=" + n + ": " + DemoDataset.describe(counts));
            for (int[] side : counts) {
                int min = Arrays.stream(side).min().orElseThrow(), max = Arrays.stream(side).max().orElseThrow();
                assertTrue(max - min <= 1, n + ": " + DemoDataset.describe(counts));
            }
            for (DemoDataset.Pair p : pairs) assertNotEquals(p.colour(), p.rejectedColour());
        }
        // every ordered (chosen, rejected) pair about as often as its reverse, and no colour always wins
        List<DemoDataset.Pair> pairs = DemoDataset.generate(600, 1, false);   // 100 blocks of 6, offsets 1..5 x 20
        Map<String, Integer> ordered = new HashMap<>();
        for (DemoDataset.Pair p : pairs) ordered.merge(p.colour() + ">" + p.rejectedColour(), 1, Integer::sum);
        assertEquals(30, ordered.size());
        for (var e : ordered.entrySet()) assertEquals(20, e.getValue(), e.getKey());
        // with fewer colours
        int[][] k3 = DemoDataset.balance(DemoDataset.generate(90, 2, false, 3));
        assertArrayEquals(new int[] {30, 30, 30, 0, 0, 0}, k3[0]);
        assertArrayEquals(new int[] {30, 30, 30, 0, 0, 0}, k3[1]);
    }

    @Test
    void answersDifferOnlyInTheColourAndImagesShowIt() {
        Set<String> shapes = new HashSet<>();
        for (DemoDataset.Pair p : DemoDataset.generate(60, 4, false)) {
            assertEquals(DemoDataset.QUESTION, p.question());
            assertEquals(p.chosen().replace(p.colour(), "#"), p.rejected().replace(p.rejectedColour(), "#"));
            ImageCheck check = ImageCheck.decode(p.png());
            assertTrue(check.ok());
            DecodedImage img = check.image().orElseThrow();
            assertEquals(64, img.width());
            assertEquals(64, img.height());
            shapes.add(p.shape());
        }
        assertEquals(Set.copyOf(DemoDataset.SHAPES), shapes);
    }

    @Test
    void sameSeedSameFileAndItReadsAsRlhfv() throws Exception {
        Path a = DemoDataset.write(tmp.resolve("a/demo.parquet"), 512, 5, false);
        Path b = DemoDataset.write(tmp.resolve("b/demo.parquet"), 512, 5, false);
        Path c = DemoDataset.write(tmp.resolve("c/demo.parquet"), 512, 6, false);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        assertFalse(Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(c)));
        System.out.println("demo parquet: 512 pairs, " + Files.size(a) + " bytes");
        List<DemoDataset.Pair> pairs = DemoDataset.generate(512, 5, false);
        try (PreferenceDataset ds = PreferenceDataset.open(a)) {
            assertEquals(PreferenceDataset.Format.RLHF_V_PARQUET, ds.format());
            assertEquals(512, ds.size());
            assertTrue(ds.skipped().isEmpty());
            List<PreferenceExample> all = ds.get(IntStream.range(0, 512).toArray());
            for (int i = 0; i < 512; i++) {
                PreferenceExample e = all.get(i);
                DemoDataset.Pair p = pairs.get(i);
                assertEquals(String.valueOf(i), e.id());
                assertEquals(DemoDataset.QUESTION, e.promptText());
                assertEquals(p.chosen(), e.chosenText());
                assertEquals(p.rejected(), e.rejectedText());
                assertArrayEquals(p.png(), e.image());
            }
        }
    }

    @Test
    void blankVariantHasOneImageAndSameAnswers() throws Exception {
        List<DemoDataset.Pair> real = DemoDataset.generate(64, 3, false), blank = DemoDataset.generate(64, 3, true);
        Set<String> distinct = new HashSet<>();
        for (int i = 0; i < 64; i++) {
            assertEquals(real.get(i).chosen(), blank.get(i).chosen());
            assertEquals(real.get(i).rejected(), blank.get(i).rejected());
            assertArrayEquals(blank.getFirst().png(), blank.get(i).png());
            distinct.add(Arrays.toString(real.get(i).png()));
        }
        assertTrue(distinct.size() > 50);
        Path file = DemoDataset.write(tmp.resolve("blank.parquet"), 64, 3, true);
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(64, ds.size());
            assertArrayEquals(blank.getFirst().png(), ds.get(17).image());
        }
    }
}
