package dev.smoldpo.train.config;

/**
 * The step and epoch arithmetic of a run, in one place, with HF Trainer's semantics: an epoch is
 * ceil(pairs / per_device_train_batch_size) micro-batches, grouped gradient_accumulation_steps at a
 * time into optimizer steps, a last shorter group still making a step (HF since 4.46). Step {@code s}
 * (0-based) of an epoch therefore takes the pairs at positions [s·P, min((s+1)·P, N)) of that epoch's
 * order, P = batch × accumulation, N = training pairs: a pair that turns out unusable only makes its
 * step smaller, so steps, epochs and resume positions never depend on the data's contents.
 *
 * @param trainPairs      N, pairs in the training split
 * @param pairsPerStep    P, per_device_train_batch_size × gradient_accumulation_steps
 * @param stepsPerEpoch   optimizer steps in one epoch
 * @param totalSteps      optimizer steps of the run: max_steps when positive, else ceil(num_train_epochs × steps per epoch)
 * @param schedule        the learning-rate schedule over totalSteps
 */
public record TrainingPlan(long trainPairs, long pairsPerStep, long stepsPerEpoch, long totalSteps, LrSchedule schedule) {
    /** Which pairs of which epoch a step takes: positions [from, to) of epoch {@code epoch}'s order. */
    public record Span(int epoch, int from, int to) {
        public int size() {
            return to - from;
        }
    }

    static TrainingPlan of(TrainConfig c, long trainPairs) {
        if (trainPairs <= 0) {
            throw new IllegalArgumentException("no training pairs");
        }
        long microBatches = ceilDiv(trainPairs, c.perDeviceTrainBatchSize());
        long stepsPerEpoch = Math.max(1, ceilDiv(microBatches, c.gradientAccumulationSteps()));
        long total = c.maxSteps() > 0 ? c.maxSteps() : (long) Math.ceil(c.numTrainEpochs() * stepsPerEpoch);
        LrSchedule schedule = LrSchedule.of(c.lrSchedulerType(), c.learningRate(), total,
                LrSchedule.warmupSteps(total, c.warmupSteps(), c.warmupRatio()));
        return new TrainingPlan(trainPairs, (long) c.perDeviceTrainBatchSize() * c.gradientAccumulationSteps(),
                stepsPerEpoch, total, schedule);
    }

    /** The pairs of step {@code step} (0-based over the run). */
    public Span span(long step) {
        long inEpoch = step % stepsPerEpoch;
        long from = inEpoch * pairsPerStep;
        return new Span(Math.toIntExact(step / stepsPerEpoch), Math.toIntExact(from),
                Math.toIntExact(Math.min(from + pairsPerStep, trainPairs)));
    }

    /** Whether step {@code step} (0-based) is the last of its epoch. */
    public boolean endsEpoch(long step) {
        return (step + 1) % stepsPerEpoch == 0;
    }

    /** The fractional epoch reached after {@code stepsDone} steps, as HF logs {@code epoch}. */
    public double epochAfter(long stepsDone) {
        if (stepsDone == 0) {
            return 0;
        }
        Span last = span(stepsDone - 1);
        return last.epoch() + (double) last.to() / trainPairs;
    }

    /** Training pairs taken by the first {@code stepsDone} steps (usable or not). */
    public long pairsAfter(long stepsDone) {
        if (stepsDone == 0) {
            return 0;
        }
        Span last = span(stepsDone - 1);
        return last.epoch() * trainPairs + last.to();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
