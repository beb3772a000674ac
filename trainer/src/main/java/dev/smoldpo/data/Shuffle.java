package dev.smoldpo.data;

/**
 * SplitMix64 and a Fisher-Yates shuffle, written out here so that orders depend on nothing but the
 * seed (not on the JDK's generators).
 */
final class Shuffle {

    private long state;

    Shuffle(long seed) {
        this.state = seed;
    }

    /** A seed derived from several values, well mixed. */
    static long mix(long... values) {
        long h = 0x9E3779B97F4A7C15L;
        for (long v : values) h = finalise(h ^ finalise(v + 0x632BE59BD9B4E019L));
        return h;
    }

    long nextLong() {
        return finalise(state += 0x9E3779B97F4A7C15L);
    }

    /** Uniform in [0, bound), without modulo bias. */
    int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound " + bound);
        long limit = (1L << 32) - ((1L << 32) % bound);
        while (true) {
            long r = nextLong() >>> 32;
            if (r < limit) return (int) (r % bound);
        }
    }

    double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static long finalise(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
