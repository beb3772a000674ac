package dev.smoldpo.data;

/**
 * The order in which the training indices are visited in each epoch: a shuffle drawn from
 * (seed, epoch) only, so a resumed run recomputes exactly the order it was in and can skip the
 * pairs already seen ({@link #at}).
 */
public final class EpochOrder {

    private final int[] indices;
    private final long seed;

    /** @param indices the training indices (e.g. {@link DataSplit#train()}); copied */
    public EpochOrder(int[] indices, long seed) {
        this.indices = indices.clone();
        this.seed = seed;
    }

    /** The shuffled order of {@code indices} for {@code epoch} (0-based). */
    public static int[] of(int[] indices, long seed, int epoch) {
        if (epoch < 0) throw new IllegalArgumentException("epoch " + epoch);
        int[] order = indices.clone();
        new Shuffle(Shuffle.mix(seed, 0xE90C_0DE5L, epoch)).shuffle(order);
        return order;
    }

    public int[] epoch(int epoch) {
        return of(indices, seed, epoch);
    }

    /** Pairs per epoch. */
    public int size() {
        return indices.length;
    }

    /** The index visited at position {@code sample} counted from the start of epoch 0 (for resuming). */
    public int at(long sample) {
        if (indices.length == 0 || sample < 0) throw new IndexOutOfBoundsException("sample " + sample);
        int epoch = Math.toIntExact(sample / indices.length);
        return epoch(epoch)[(int) (sample % indices.length)];
    }

    public long seed() {
        return seed;
    }
}
