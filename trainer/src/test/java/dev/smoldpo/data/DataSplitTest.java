package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DataSplitTest {

    @Test
    void splitIsDeterministicDisjointAndComplete() {
        DataSplit a = DataSplit.of(5733, 0.1, 42), b = DataSplit.of(5733, 0.1, 42);
        assertEquals(a, b);
        assertEquals(574, a.testSize());          // ceil(573.3)
        assertEquals(5733 - 574, a.trainSize());
        int[] all = IntStream.concat(Arrays.stream(a.train()), Arrays.stream(a.test())).sorted().toArray();
        assertArrayEquals(IntStream.range(0, 5733).toArray(), all);   // disjoint and complete
        assertNotEquals(a, DataSplit.of(5733, 0.1, 43));
        assertFalse(Arrays.equals(a.test(), DataSplit.of(5733, 0.1, 43).test()));
        // pinned values: a change of generator would silently change resumed runs' data, so it must show up here
        assertArrayEquals(new int[] {2, 13, 17, 18}, DataSplit.of(20, 4, 7).test());
        assertArrayEquals(new int[] {1, 7, 4, 5, 9, 2, 0, 3, 8, 6}, EpochOrder.of(IntStream.range(0, 10).toArray(), 7, 2));
    }

    @Test
    void testSizeAsFractionOrCount() {
        assertEquals(3, DataSplit.testCount(10, 0.25));  // ceil(2.5)
        assertEquals(2, DataSplit.testCount(10, 0.2));
        assertEquals(0, DataSplit.testCount(10, 0));
        assertEquals(7, DataSplit.testCount(10, 7));
        assertEquals(0, DataSplit.of(10, 0, 1).testSize());
        assertThrows(IllegalArgumentException.class, () -> DataSplit.testCount(10, 10));
        assertThrows(IllegalArgumentException.class, () -> DataSplit.testCount(10, 2.5));
        assertThrows(IllegalArgumentException.class, () -> DataSplit.testCount(10, -0.1));
        assertThrows(IllegalArgumentException.class, () -> DataSplit.testCount(10, Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> DataSplit.testCount(1, 0.5));
    }

    @Test
    void epochOrderIsReproduciblePerEpoch() {
        int[] train = DataSplit.of(1000, 0.2, 3).train();
        EpochOrder order = new EpochOrder(train, 11);
        int[] e0 = order.epoch(0), e1 = order.epoch(1);
        assertArrayEquals(e0, new EpochOrder(train, 11).epoch(0));
        assertArrayEquals(e1, EpochOrder.of(train, 11, 1));
        assertFalse(Arrays.equals(e0, e1));
        assertFalse(Arrays.equals(e0, new EpochOrder(train, 12).epoch(0)));
        assertFalse(Arrays.equals(e0, train));
        int[] sorted = e1.clone();
        Arrays.sort(sorted);
        assertArrayEquals(train, sorted);          // a permutation of the training indices
        assertEquals(e1[5], order.at(train.length + 5L));
        assertEquals(e0[0], order.at(0));
    }
}
