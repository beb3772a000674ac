package dev.smoldpo.train;

import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.config.TrainConfig.IntervalStrategy;
import dev.smoldpo.train.config.TrainingPlan;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.RunCheckpoints;
import dev.smoldpo.train.support.RunState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The training loop of one {@code fit} session, from the state it starts in to the end of the plan or
 * an earlier stop; whatever ends it, the last completed step is saved as a checkpoint, once the run
 * has made an update: adapters no optimizer step has changed are no result, and are never saved.
 *
 * <p>Two things stop a run with an error: max_nonfinite_steps steps in a row with a non-finite loss,
 * and max_empty_steps steps in a row with no usable pair before the run's first update (pairs the
 * settings cannot fit, e.g. prompts longer than max_length: they would be unusable in every later step
 * too). After an update, steps without a usable pair are only counted (empty_steps), since a few of
 * them in a run whose other steps train are normal. A run that ends without any update fails as well.
 */
final class TrainRun {
    /** How a run ended: the final state, why, its first and last evaluations, and an error to report. */
    record Result(RunState state, String ending, Map<String, Double> firstEval, Map<String, Double> lastEval,
                  Exception failure) {}

    static final String COMPLETED = "completed";
    static final String INTERRUPTED = "interrupted";
    static final String STOPPED_AFTER_STEP = "stopped_after_step";
    static final String NON_FINITE = "non_finite";
    static final String NO_UPDATE = "no_update";

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
    private long emptyInARow;
    /** Why the pairs of the steps without a usable pair were left out, for the error of a run that made no update. */
    private final UnusablePairs unusableInEmptySteps = new UnusablePairs();
    /** Skip reasons whose detail and fix a step's message has told already: later steps only count them. */
    private final Set<String> explained = new HashSet<>();

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
        long startStep = state.globalStep();
        Map<String, Double> firstEval = null;
        if (config.evalOnStart() && state.globalStep() == 0 && data.testIndices().length > 0 && !stop.requested()) {
            firstEval = evaluate(session, 0, 0);
        }
        Map<String, Double> lastEval = null;
        String ending = COMPLETED;
        for (long step = state.globalStep(); step < plan.totalSteps() && ending.equals(COMPLETED); step++) {
            if (stop.requested()) {
                ending = INTERRUPTED;
                break;
            }
            long started = System.nanoTime();
            DpoData.Batch batch = stream.pairs(step);
            sections.add("data", started);
            StepRunner.Outcome outcome = batch.usable().isEmpty() ? null : train(session, batch.usable(), step);
            state = advance(account(state, batch, outcome, step), step, outcome, started);
            long done = step + 1;
            boolean last = done == plan.totalSteps();
            log.step(done, last, state.epoch(), outcome, counters(state, step));
            if (nonFiniteInARow >= Math.max(1, config.maxNonfiniteSteps())) {
                ending = NON_FINITE;
                break;
            }
            if (state.updates() == 0 && emptyInARow >= config.maxEmptySteps()) {
                ending = NO_UPDATE;
                break;
            }
            if (evalDue(step, last)) {
                lastEval = evaluate(session, done, state.epoch());
            }
            if (saveDue(step, last) && state.updates() > 0) {
                save(session, state);
            }
            if (done == stopAfterStep) {
                log.message("stopping after step " + stopAfterStep + " as asked");
                ending = STOPPED_AFTER_STEP;
            }
        }
        if (ending.equals(COMPLETED) && state.updates() == 0 && state.globalStep() > startStep) {
            ending = NO_UPDATE;
        }
        saveLastStep(session, state, ending, startStep);
        return new Result(state, ending, firstEval, lastEval, failure(state, ending));
    }

    /** The error that ends a run stopped by its non-finite or empty steps; null for any other ending. */
    private Exception failure(RunState state, String ending) {
        String saved = state.updates() > 0 ? "the last finite weights are saved" : "no update was made, so nothing is saved";
        return switch (ending) {
            case NON_FINITE -> new IllegalStateException(nonFiniteInARow + " steps in a row had a non-finite loss; stopping "
                    + "(lower the learning rate, or raise max_nonfinite_steps); " + saved);
            case NO_UPDATE -> new IllegalStateException((emptyInARow >= config.maxEmptySteps()
                    ? emptyInARow + " optimizer steps in a row had no usable pair before any update (max_empty_steps "
                            + config.maxEmptySteps() + ")"
                    : "the run made no update in its " + state.globalStep() + " optimizer steps (" + state.skipped("empty_steps")
                            + " without a usable pair, " + state.skipped("nonfinite_steps") + " with a non-finite loss)")
                    + (unusableInEmptySteps.isEmpty() ? "" : ": " + unusableInEmptySteps.describe()) + "; nothing is saved");
            default -> null;
        };
    }

    /** Evaluates on the held-out pairs; when none could be scored, says why instead of logging an empty record. */
    private Map<String, Double> evaluate(TrainingSession session, long stepsDone, double epoch) throws Exception {
        Evaluator.Result result = evaluator.evaluate(session, DpoData.Split.TEST);
        if (result.metrics().isEmpty()) {
            log.message("step " + stepsDone + ": no evaluation, " + result.whyEmpty(data.testIndices().length, "held-out pairs",
                    explained));
            explained.addAll(result.unusable().reasons());
        } else {
            log.eval(stepsDone, epoch, result.metrics());
            if (!result.unusable().isEmpty()) {
                // the metrics average over fewer pairs than "N held out" said: say how many and why
                log.message("step " + stepsDone + ": evaluated " + (data.testIndices().length - result.unusable().total())
                        + " of the " + data.testIndices().length + " held-out pairs; unusable: "
                        + result.unusable().describe(explained));
                explained.addAll(result.unusable().reasons());
            }
        }
        return result.metrics();
    }

    /** Counts a step without usable pairs, or with a non-finite loss (in a row). */
    private RunState account(RunState state, DpoData.Batch batch, StepRunner.Outcome outcome, long step) {
        if (outcome == null) {
            emptyInARow++;
            UnusablePairs unusable = new UnusablePairs();
            unusable.addAll(batch.skipped());
            unusableInEmptySteps.addAll(unusable);
            log.message("step " + (step + 1) + ": every pair was unusable, no update: " + unusable.describe(explained));
            explained.addAll(unusable.reasons());
            return state.withSkipped("empty_steps", 1);
        }
        emptyInARow = 0;
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

    /** Whatever ended the run, its last completed step is a checkpoint, unless no update ever changed the adapters. */
    private void saveLastStep(TrainingSession session, RunState state, String ending, long startStep) throws Exception {
        if (state.updates() == 0) {
            if (state.globalStep() > startStep && !ending.equals(NO_UPDATE) && !ending.equals(NON_FINITE)) {
                log.message("stopped after step " + state.globalStep() + " (" + ending.replace('_', ' ')
                        + ") with no update made: nothing to save");
            }
            return;
        }
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
