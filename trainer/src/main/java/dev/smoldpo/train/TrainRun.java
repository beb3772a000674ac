package dev.smoldpo.train;

import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.config.TrainConfig.IntervalStrategy;
import dev.smoldpo.train.config.TrainingPlan;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.RunCheckpoints;
import dev.smoldpo.train.support.RunState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop of one {@code fit} session, from the state it starts in to the end of the plan or
 * an earlier stop; whatever ends it, the last completed step is saved as a checkpoint.
 */
final class TrainRun {
    /** How a run ended: the final state, why, its first and last evaluations, and an error to report. */
    record Result(RunState state, String ending, Map<String, Double> firstEval, Map<String, Double> lastEval,
                  Exception failure) {}

    static final String COMPLETED = "completed";
    static final String INTERRUPTED = "interrupted";
    static final String STOPPED_AFTER_STEP = "stopped_after_step";
    static final String NON_FINITE = "non_finite";

    private final TrainConfig config;
    private final TrainingPlan plan;
    private final PairStream stream;
    private final ReferenceScorer reference;
    private final StepRunner runner;
    private final Evaluator evaluator;
    private final Sections sections;
    private final RunCheckpoints checkpoints;
    private final TrainLogger log;
    private final DpoData data;
    private long nonFiniteInARow;

    TrainRun(TrainConfig config, TrainingPlan plan, PairStream stream, ReferenceScorer reference, StepRunner runner,
             Evaluator evaluator, Sections sections, RunCheckpoints checkpoints, TrainLogger log, DpoData data) {
        this.config = config;
        this.plan = plan;
        this.stream = stream;
        this.reference = reference;
        this.runner = runner;
        this.evaluator = evaluator;
        this.sections = sections;
        this.checkpoints = checkpoints;
        this.log = log;
        this.data = data;
    }

    Result loop(TrainingSession session, RunState state, GracefulStop stop, long stopAfterStep) throws Exception {
        Map<String, Double> firstEval = null;
        if (config.evalOnStart() && state.globalStep() == 0 && data.testIndices().length > 0) {
            firstEval = evaluator.evaluate(session, DpoData.Split.TEST);
            log.eval(0, 0, firstEval);
        }
        Map<String, Double> lastEval = null;
        String ending = COMPLETED;
        for (long step = state.globalStep(); step < plan.totalSteps() && ending.equals(COMPLETED); step++) {
            if (stop.requested()) {
                ending = INTERRUPTED;
                break;
            }
            long started = System.nanoTime();
            List<PairEncoder.Encoded> pairs = stream.pairs(step);
            sections.add("data", started);
            StepRunner.Outcome outcome = pairs.isEmpty() ? null : train(session, pairs, step);
            state = advance(account(state, outcome, step), step, outcome, started);
            long done = step + 1;
            boolean last = done == plan.totalSteps();
            log.step(done, last, state.epoch(), outcome, counters(state, step));
            if (nonFiniteInARow >= Math.max(1, config.maxNonfiniteSteps())) {
                ending = NON_FINITE;
                break;
            }
            if (evalDue(step, last)) {
                lastEval = evaluator.evaluate(session, DpoData.Split.TEST);
                log.eval(done, state.epoch(), lastEval);
            }
            if (saveDue(step, last)) {
                save(session, state);
            }
            if (done == stopAfterStep) {
                log.message("stopping after step " + stopAfterStep + " as asked");
                ending = STOPPED_AFTER_STEP;
            }
        }
        saveLastStep(session, state, ending);
        return new Result(state, ending, firstEval, lastEval, !ending.equals(NON_FINITE) ? null
                : new IllegalStateException(nonFiniteInARow + " steps in a row had a non-finite loss; stopping (lower the "
                        + "learning rate, or raise max_nonfinite_steps); the last finite weights are saved"));
    }

    /** Counts a step without usable pairs, or with a non-finite loss (in a row). */
    private RunState account(RunState state, StepRunner.Outcome outcome, long step) {
        if (outcome == null) {
            log.message("step " + (step + 1) + ": every pair was unusable (see the skip counts); no update");
            return state.withSkipped("empty_steps", 1);
        }
        if (!outcome.finite()) {
            nonFiniteInARow++;
            log.message("step " + (step + 1) + ": non-finite loss, step skipped (" + nonFiniteInARow + " in a row)");
            return state.withSkipped("nonfinite_steps", 1);
        }
        nonFiniteInARow = 0;
        return state;
    }

    /** The run's position after step {@code step}: steps, epoch, pairs and tokens taken, seconds spent. */
    private RunState advance(RunState state, long step, StepRunner.Outcome outcome, long startedNanos) {
        long done = step + 1;
        TrainingPlan.Span span = plan.span(step);
        return state.afterStep(done, plan.epochAfter(done), span.epoch(), span.to(), done, plan.pairsAfter(done),
                state.tokensSeen() + (outcome == null ? 0 : outcome.tokens()),
                state.trainSeconds() + (System.nanoTime() - startedNanos) / 1e9);
    }

    private void save(TrainingSession session, RunState state) throws Exception {
        checkpoints.save(state.globalStep(), state, path -> session.ort().saveCheckpoint(path, true));
    }

    /** Whatever ended the run, its last completed step is a checkpoint. */
    private void saveLastStep(TrainingSession session, RunState state, String ending) throws Exception {
        Path last = RunCheckpoints.dirFor(checkpoints.outputDir(), state.globalStep());
        if (state.globalStep() > 0 && !Files.isDirectory(last)) {
            save(session, state);
            log.message("saved " + last + " (" + ending.replace('_', ' ') + ")");
        }
    }

    /** Reference log-probs, then trainStep over the micro-batches, then optimizerStep when every loss was finite. */
    private StepRunner.Outcome train(TrainingSession session, List<PairEncoder.Encoded> pairs, long step) throws Exception {
        long t = System.nanoTime();
        List<ReferenceCache.Logps> refs = config.referenceFree() ? null : reference.score(pairs, config.perDeviceEvalBatchSize());
        sections.add("reference", t);
        session.ort().setLearningRate((float) plan.schedule().lr(step));
        session.ort().lazyResetGrad();
        StepRunner.Outcome outcome = runner.train(session, pairs, refs, sections);
        if (outcome.finite()) {
            long tOpt = System.nanoTime();
            session.ort().optimizerStep();
            sections.add("optimizer_step", tOpt);
        }
        return outcome;
    }

    /**
     * The record's extra values. {@code learning_rate} is the rate the update just made used,
     * lr(step) for the update with 0-based index {@code step}, as HF Trainer logs it since
     * transformers 4.51 (PR #36973: {@code learning_rate = self._get_learning_rate()} is read before
     * {@code lr_scheduler.step()} and passed to {@code _maybe_log_save_evaluate}; TRL main requires
     * transformers ≥ 4.56). Earlier versions read it after the scheduler step, i.e. lr(step + 1),
     * as LrSchedule's class comment still describes; with warmup the first logged rate is now 0.
     */
    private Map<String, Object> counters(RunState state, long step) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(MetricsLog.LEARNING_RATE, plan.schedule().lr(step));
        m.put(MetricsLog.SKIPPED_PAIRS, data.skipped().total());
        m.put(MetricsLog.SKIPPED_NONFINITE_STEPS, state.skipped("nonfinite_steps"));
        return m;
    }

    /**
     * As HF's DefaultFlowCallback: every eval_steps under eval_strategy steps, at each epoch's end under
     * epoch; and, beyond HF, at the run's last step, so summary.json has the final held-out figures
     * (eval_strategy "no" turns all off).
     */
    private boolean evalDue(long step, boolean last) {
        return data.testIndices().length > 0 && config.evalStrategy() != IntervalStrategy.NO
                && (last || config.evalStrategy() == IntervalStrategy.EPOCH && plan.endsEpoch(step)
                || config.evalStrategy() == IntervalStrategy.STEPS && (step + 1) % config.effectiveEvalSteps() == 0);
    }

    /** Every save_steps (or epoch), and always at the last step. */
    private boolean saveDue(long step, boolean last) {
        return last || config.saveStrategy() == IntervalStrategy.STEPS && (step + 1) % config.saveSteps() == 0
                || config.saveStrategy() == IntervalStrategy.EPOCH && plan.endsEpoch(step);
    }
}
