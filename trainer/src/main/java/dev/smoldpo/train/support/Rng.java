package dev.smoldpo.train.support;

/**
 * A small seeded random number generator whose whole state is one {@code long}, so that a run can save
 * it in {@code trainer_state.json} and resume the exact same sequence ({@link java.util.SplittableRandom}
 * cannot be serialised). The generator is SplitMix64 (Steele, Lea and Flood 2014; Vigna's reference
 * constants): the state advances by the golden-ratio increment and each output is the state passed
 * through a 64-bit finaliser. Outputs equal {@code new SplittableRandom(seed).nextLong()}'s sequence.
 *
 * <p>Not thread-safe; not for cryptography.
 */
public final class Rng {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
    private long state;

    /** A generator seeded with {@code seed} (the state is the seed itself). */
    public Rng(long seed) {
        this.state = seed;
    }

    /** A generator continuing from a saved {@link #state()}. */
    public static Rng ofState(long state) {
        return new Rng(state);
    }

    /** An independent generator for stream {@code stream} of {@code seed} (e.g. the epoch number). */
    public static Rng forStream(long seed, long stream) {
        return new Rng(mix(seed ^ mix(stream + GOLDEN_GAMMA)));
    }

    /** The whole state: {@code ofState(state())} continues with the same outputs. */
    public long state() {
        return state;
    }

    /** A copy in the same state. */
    public Rng copy() {
        return new Rng(state);
    }

    /** SplitMix64's finaliser (a bijection of the 64-bit integers). */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public long nextLong() {
        state += GOLDEN_GAMMA;
        return mix(state);
    }

    /** Uniform in [0, bound), without modulo bias. */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive, got " + bound);
        }
        // rejection on the top 31 bits
        int r = (int) (nextLong() >>> 33);
        int m = bound - 1;
        if ((bound & m) == 0) {
            return r & m;
        }
        for (int u = r; u - (r = u % bound) + m < 0; u = (int) (nextLong() >>> 33)) {
            // retry: u fell in the incomplete last block
        }
        return r;
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform in [0, 1) with 24 random bits. */
    public float nextFloat() {
        return (nextLong() >>> 40) * 0x1.0p-24f;
    }

    public boolean nextBoolean() {
        return nextLong() < 0;
    }

    /** Standard normal (Marsaglia's polar method; the second value of each pair is dropped so the state stays one long). */
    public double nextGaussian() {
        while (true) {
            double u = 2 * nextDouble() - 1;
            double v = 2 * nextDouble() - 1;
            double s = u * u + v * v;
            if (s > 0 && s < 1) {
                return u * Math.sqrt(-2 * Math.log(s) / s);
            }
        }
    }

    /** Fisher-Yates shuffle in place. */
    public void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** A uniformly random permutation of 0..n-1. */
    public int[] permutation(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        shuffle(p);
        return p;
    }

    /**
     * The data order of epoch {@code epoch} for a run with data seed {@code seed}: a function of the two
     * alone, so a resumed run recomputes it and skips the micro-batches already done.
     */
    public static int[] epochPermutation(long seed, long epoch, int n) {
        return forStream(seed, epoch).permutation(n);
    }
}
