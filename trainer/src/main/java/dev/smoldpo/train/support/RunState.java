package dev.smoldpo.train.support;

import java.util.Map;
import java.util.TreeMap;

/**
 * Where a run stands, saved as {@code trainer_state.json} in every checkpoint and read back to resume.
 * Kept in our own JSON rather than ORT's checkpoint property bag (ORT's Java {@code addProperty(String,
 * int)} loses the upper 32 bits of a long).
 *
 * @param globalStep      optimizer steps completed
 * @param epoch           fractional epoch reached (as logged: epochIndex + fraction of the epoch done)
 * @param epochIndex      0-based epoch the next micro-batch belongs to
 * @param microStep       micro-batches of epoch {@code epochIndex} already consumed (the resume position
 *                        within the epoch's order, which {@link Rng#epochPermutation} recomputes)
 * @param dataSeed        seed of the data order
 * @param rngStates       named {@link Rng#state()}s (e.g. "dropout"), restored with {@link Rng#ofState}
 * @param scheduleStep    LR schedule position: the step index of the next update ({@code LrSchedule.lr(long)})
 * @param totalSteps      the schedule's total steps when saved
 * @param bestMetrics     best values so far (e.g. "eval_loss", "eval_rewards/accuracies")
 * @param bestStep        step of the best checkpoint, -1 if none; never deleted by rotation
 * @param skipCounters    counts of skipped things (e.g. "nonfinite_steps", "pairs_too_long")
 * @param pairsSeen       training pairs consumed so far
 * @param tokensSeen      training tokens consumed so far
 * @param trainSeconds    wall-clock seconds spent training so far (for throughput across resumes)
 * @param configHash      {@code TrainConfig.hash()} of the run's configuration
 */
public record RunState(long globalStep, double epoch, long epochIndex, long microStep, long dataSeed,
                       Map<String, Long> rngStates, long scheduleStep, long totalSteps,
                       Map<String, Double> bestMetrics, long bestStep, Map<String, Long> skipCounters,
                       long pairsSeen, long tokensSeen, double trainSeconds, String configHash) {
    public RunState {
        if (globalStep < 0 || epochIndex < 0 || microStep < 0 || scheduleStep < 0 || totalSteps < 0
                || pairsSeen < 0 || tokensSeen < 0) {
            throw new IllegalArgumentException("run state counters must be >= 0");
        }
        rngStates = sorted(rngStates);
        bestMetrics = sorted(bestMetrics);
        skipCounters = sorted(skipCounters);
    }

    private static <V> Map<String, V> sorted(Map<String, V> m) {
        return m == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(m));
    }

    /** The state of a fresh run. */
    public static RunState initial(long dataSeed, long totalSteps, String configHash) {
        return new RunState(0, 0.0, 0, 0, dataSeed, Map.of(), 0, totalSteps, Map.of(), -1, Map.of(), 0, 0, 0.0,
                configHash);
    }

    /** The state after an optimizer step: counters moved on, the rest kept. */
    public RunState afterStep(long globalStep, double epoch, long epochIndex, long microStep, long scheduleStep,
                              long pairsSeen, long tokensSeen, double trainSeconds) {
        return new RunState(globalStep, epoch, epochIndex, microStep, dataSeed, rngStates, scheduleStep, totalSteps,
                bestMetrics, bestStep, skipCounters, pairsSeen, tokensSeen, trainSeconds, configHash);
    }

    public RunState withRngState(String name, long state) {
        Map<String, Long> m = new TreeMap<>(rngStates);
        m.put(name, state);
        return new RunState(globalStep, epoch, epochIndex, microStep, dataSeed, m, scheduleStep, totalSteps,
                bestMetrics, bestStep, skipCounters, pairsSeen, tokensSeen, trainSeconds, configHash);
    }

    public RunState withBest(Map<String, Double> metrics, long step) {
        return new RunState(globalStep, epoch, epochIndex, microStep, dataSeed, rngStates, scheduleStep, totalSteps,
                metrics, step, skipCounters, pairsSeen, tokensSeen, trainSeconds, configHash);
    }

    /** This state under other settings (a resume with changed ones: its checkpoints are then trained with these). */
    public RunState withConfigHash(String hash) {
        return new RunState(globalStep, epoch, epochIndex, microStep, dataSeed, rngStates, scheduleStep, totalSteps,
                bestMetrics, bestStep, skipCounters, pairsSeen, tokensSeen, trainSeconds, hash);
    }

    /** This state with {@code counter} increased by {@code by}. */
    public RunState withSkipped(String counter, long by) {
        Map<String, Long> m = new TreeMap<>(skipCounters);
        m.merge(counter, by, Long::sum);
        return new RunState(globalStep, epoch, epochIndex, microStep, dataSeed, rngStates, scheduleStep, totalSteps,
                bestMetrics, bestStep, m, pairsSeen, tokensSeen, trainSeconds, configHash);
    }

    /**
     * Optimizer updates made so far: the steps that neither lacked a usable pair ({@code empty_steps}) nor
     * had a non-finite loss ({@code nonfinite_steps}), which fit counts as skipped.
     */
    public long updates() {
        return globalStep - skipped("empty_steps") - skipped("nonfinite_steps");
    }

    /** A skip counter, 0 when absent. */
    public long skipped(String counter) {
        return skipCounters.getOrDefault(counter, 0L);
    }
}
