package dev.smoldpo.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static float[] randomLogits(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) l[i] = (float) (r.nextDouble() * 8 - 4);
        return l;
    }

    private static int[] draw(Sampler s, float[] logits, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.next(logits);
        return out;
    }

    @Test
    void greedyIsArgmaxAndFirstOnTies() {
        for (long seed = 0; seed < 20; seed++) {
            float[] l = randomLogits(seed, 300);
            int best = 0;
            for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
            assertEquals(best, new Sampler(Sampler.Settings.greedyDecoding()).next(l));
            assertEquals(best, new Sampler(Sampler.Settings.sampling(0, 0, 1, seed)).next(l), "temperature 0 = greedy");
        }
        assertEquals(1, Sampler.argmax(new float[] {0, 3, 3, 1}));
        assertEquals(2, Sampler.argmax(new float[] {Float.NaN, 1, 2}));
        assertEquals(0, Sampler.argmax(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}));
    }

    @Test
    void topKOneIsGreedy() {
        for (long seed = 0; seed < 20; seed++) {
            float[] l = randomLogits(seed, 200);
            Sampler s = new Sampler(Sampler.Settings.sampling(1.5, 1, 1, seed));
            for (int i = 0; i < 50; i++) assertEquals(Sampler.argmax(l), s.next(l));
        }
    }

    @Test
    void tinyTopPIsArgmax() {
        for (long seed = 0; seed < 20; seed++) {
            float[] l = randomLogits(seed, 200);
            Sampler s = new Sampler(Sampler.Settings.sampling(1.0, 0, 1e-9, seed));
            for (int i = 0; i < 50; i++) assertEquals(Sampler.argmax(l), s.next(l));
        }
    }

    @Test
    void lowTemperatureIsCloseToGreedy() {
        float[] l = randomLogits(3, 500);
        int best = Sampler.argmax(l);
        Sampler s = new Sampler(Sampler.Settings.sampling(1e-3, 0, 1, 11));
        int hits = 0;
        for (int i = 0; i < 1000; i++) hits += s.next(l) == best ? 1 : 0;
        assertEquals(1000, hits);
        l[best] += 1; // a clear winner: 1 above the runner-up at least
        double[] p = Sampler.probabilities(l, Sampler.Settings.sampling(0.05, 0, 1, 0));
        assertTrue(p[best] > 0.9, "p(argmax) at temperature 0.05: " + p[best]);
        double[] warm = Sampler.probabilities(l, Sampler.Settings.sampling(1, 0, 1, 0));
        assertTrue(warm[best] < p[best]);
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        float[] l = new float[100]; // uniform: every draw is random
        Sampler.Settings a = Sampler.Settings.sampling(1, 0, 1, 1234);
        assertArrayEquals(draw(new Sampler(a), l, 200), draw(new Sampler(a), l, 200));
        assertNotEquals(java.util.Arrays.toString(draw(new Sampler(a), l, 200)),
                java.util.Arrays.toString(draw(new Sampler(Sampler.Settings.sampling(1, 0, 1, 1235)), l, 200)));
    }

    @Test
    void drawsFollowTheDistribution() {
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        Sampler s = new Sampler(Sampler.Settings.sampling(1, 0, 1, 99));
        int n = 200_000;
        int[] counts = new int[4];
        for (int i = 0; i < n; i++) counts[s.next(l)]++;
        double[] expected = {0.5, 0.3, 0.15, 0.05};
        for (int i = 0; i < 4; i++) {
            double sd = Math.sqrt(expected[i] * (1 - expected[i]) / n);
            assertEquals(expected[i], counts[i] / (double) n, 5 * sd, "token " + i + ": " + java.util.Arrays.toString(counts));
        }
    }

    @Test
    void topKAndTopPKeepTheRightSet() {
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        double[] k2 = Sampler.probabilities(l, Sampler.Settings.sampling(1, 2, 1, 0));
        assertArrayEquals(new double[] {0.5 / 0.8, 0.3 / 0.8, 0, 0}, k2, 1e-6);
        double[] p07 = Sampler.probabilities(l, Sampler.Settings.sampling(1, 0, 0.7, 0));
        assertArrayEquals(new double[] {0.5 / 0.8, 0.3 / 0.8, 0, 0}, p07, 1e-6);
        double[] p09 = Sampler.probabilities(l, Sampler.Settings.sampling(1, 0, 0.9, 0));
        assertArrayEquals(new double[] {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}, p09, 1e-6);
        // top-p applies to the top-k distribution
        double[] both = Sampler.probabilities(l, Sampler.Settings.sampling(1, 3, 0.6, 0));
        assertArrayEquals(new double[] {0.5 / 0.8, 0.3 / 0.8, 0, 0}, both, 1e-6);
        Sampler s = new Sampler(Sampler.Settings.sampling(1, 2, 1, 5));
        for (int i = 0; i < 2000; i++) assertTrue(s.next(l) < 2);
        double[] hot = Sampler.probabilities(l, Sampler.Settings.sampling(2, 0, 1, 0));
        double sum = 0;
        for (double v : hot) sum += v;
        assertEquals(1, sum, 1e-9);
        assertTrue(hot[3] > 0.05, "higher temperature flattens");
    }

    @Test
    void rejectsBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> Sampler.Settings.sampling(-1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Settings.sampling(1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Settings.sampling(1, 0, 1.5, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Settings.sampling(1, -2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.Settings.sampling(Double.NaN, 0, 1, 0));
    }
}
