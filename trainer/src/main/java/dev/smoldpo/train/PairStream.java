package dev.smoldpo.train;

import dev.smoldpo.data.EpochOrder;
import dev.smoldpo.train.config.TrainingPlan;
import java.util.Arrays;

/**
 * The training pairs of each optimizer step: the {@link TrainingPlan}'s span of the epoch's shuffled
 * order ({@link EpochOrder}, drawn from the data seed and the epoch only, so a resumed run continues
 * exactly), encoded, with the unusable ones left out and counted by {@link DpoData}.
 */
final class PairStream {
    private final DpoData data;
    private final TrainingPlan plan;
    private final long seed;
    private int orderEpoch = -1;
    private int[] order;

    PairStream(DpoData data, TrainingPlan plan, long seed) {
        this.data = data;
        this.plan = plan;
        this.seed = seed;
    }

    /** The pairs of step {@code step} (0-based): the usable ones, and the rows left out with why. */
    DpoData.Batch pairs(long step) {
        TrainingPlan.Span span = plan.span(step);
        if (span.epoch() != orderEpoch) {
            order = EpochOrder.of(data.trainIndices(), seed, span.epoch());
            orderEpoch = span.epoch();
        }
        return data.encode(DpoData.Split.TRAIN, Arrays.copyOfRange(order, span.from(), span.to()));
    }
}
