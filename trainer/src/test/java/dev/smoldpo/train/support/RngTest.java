package dev.smoldpo.train.support;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RngTest {
    @Test
    void splitMix64KnownAnswers() {
        Rng r = new Rng(0);
        assertEquals(0xE220A8397B1DCDAFL, r.nextLong());
        assertEquals(0x6E789E6AA1B965F4L, r.nextLong());
        assertEquals(0x06C45D188009454FL, r.nextLong());
    }

    @Test
    void sameSequenceAsSplittableRandom() {
        for (long seed : new long[] {0, 1, 42, -7, Long.MIN_VALUE}) {
            Rng r = new Rng(seed);
            SplittableRandom s = new SplittableRandom(seed);
            for (int i = 0; i < 100; i++) {
                assertEquals(s.nextLong(), r.nextLong(), "seed " + seed + " output " + i);
            }
        }
    }

    @Test
    void stateRestoresTheSequence() {
        Rng r = new Rng(123);
        for (int i = 0; i < 17; i++) {
            r.nextDouble();
        }
        long saved = r.state();
        long[] expected = new long[10];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = r.nextLong();
        }
        Rng restored = Rng.ofState(saved);
        for (long e : expected) {
            assertEquals(e, restored.nextLong());
        }
    }

    @Test
    void nextIntIsInRangeAndRoughlyUniform() {
        Rng r = new Rng(9);
        int[] counts = new int[7];
        for (int i = 0; i < 70_000; i++) {
            counts[r.nextInt(7)]++;
        }
        for (int c : counts) {
            assertTrue(c > 9_500 && c < 10_500, Arrays.toString(counts));
        }
        for (int i = 0; i < 1000; i++) {
            double d = r.nextDouble();
            assertTrue(d >= 0 && d < 1);
            float f = r.nextFloat();
            assertTrue(f >= 0 && f < 1);
        }
        double sum = 0;
        double sq = 0;
        for (int i = 0; i < 20_000; i++) {
            double g = r.nextGaussian();
            sum += g;
            sq += g * g;
        }
        assertEquals(0, sum / 20_000, 0.03);
        assertEquals(1, sq / 20_000, 0.04);
    }

    @Test
    void epochPermutationsAreDeterministicPermutations() {
        int[] a = Rng.epochPermutation(42, 0, 50);
        assertArrayEquals(a, Rng.epochPermutation(42, 0, 50));
        int[] sorted = a.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 50; i++) {
            assertEquals(i, sorted[i]);
        }
        assertFalse(Arrays.equals(a, Rng.epochPermutation(42, 1, 50)));
        assertFalse(Arrays.equals(a, Rng.epochPermutation(43, 0, 50)));
        assertEquals(0, Rng.epochPermutation(1, 0, 0).length);
    }
}
