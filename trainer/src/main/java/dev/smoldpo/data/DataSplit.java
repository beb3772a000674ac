package dev.smoldpo.data;

import java.util.Arrays;

/**
 * A seeded, deterministic train/test split of the indices {@code 0..n-1}: a permutation drawn from
 * the seed, its first {@code testCount} entries are the test set. Both sets are returned in
 * ascending order (the training order per epoch comes from {@link EpochOrder}).
 *
 * @param train ascending indices of the training pairs
 * @param test  ascending indices of the test pairs
 */
public record DataSplit(int[] train, int[] test) {

    public DataSplit {
        train = train.clone();
        test = test.clone();
    }

    /**
     * Splits {@code n} indices.
     *
     * @param testSize a fraction in [0, 1) of {@code n} (rounded up, as HF datasets and scikit-learn
     *                 do), or a whole count ≥ 1
     * @throws IllegalArgumentException when the test size is negative, fractional above 1, or
     *                                  leaves no training pair
     */
    public static DataSplit of(int n, double testSize, long seed) {
        int testCount = testCount(n, testSize);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        new Shuffle(Shuffle.mix(seed, 0x5EED_5B11L, n)).shuffle(perm);
        int[] test = Arrays.copyOfRange(perm, 0, testCount);
        int[] train = Arrays.copyOfRange(perm, testCount, n);
        Arrays.sort(test);
        Arrays.sort(train);
        return new DataSplit(train, test);
    }

    /** The number of test pairs {@code testSize} means for {@code n} pairs. */
    public static int testCount(int n, double testSize) {
        if (n < 0) throw new IllegalArgumentException("negative size " + n);
        if (!(testSize >= 0) || Double.isInfinite(testSize)) throw new IllegalArgumentException("test_size " + testSize + " must be >= 0");
        int count;
        if (testSize < 1) {
            count = (int) Math.ceil(testSize * n - 1e-9);
        } else {
            if (testSize != Math.rint(testSize)) {
                throw new IllegalArgumentException("test_size " + testSize + " is neither a fraction below 1 nor a whole count");
            }
            count = (int) Math.min(testSize, Integer.MAX_VALUE);
        }
        if (count > 0 && count >= n) {
            throw new IllegalArgumentException("test_size " + testSize + " takes " + count + " of " + n
                    + " pairs, leaving none to train on");
        }
        return Math.max(count, 0);
    }

    public int trainSize() {
        return train.length;
    }

    public int testSize() {
        return test.length;
    }

    @Override
    public int[] train() {
        return train.clone();
    }

    @Override
    public int[] test() {
        return test.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DataSplit s && Arrays.equals(train, s.train) && Arrays.equals(test, s.test);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(train) + Arrays.hashCode(test);
    }

    @Override
    public String toString() {
        return "DataSplit[train=" + train.length + ", test=" + test.length + "]";
    }
}
