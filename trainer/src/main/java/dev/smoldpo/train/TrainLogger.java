package dev.smoldpo.train;

import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.Progress;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The training metrics of a run: TRL's metrics and HF's loss over a window of logging_steps optimizer
 * steps (and the last step), averaged as TRL and HF Trainer average them ({@link DpoMetrics}), with
 * the learning rate, throughput and skip counters, written to {@code metrics.jsonl} and shown on the
 * progress bar.
 */
final class TrainLogger {
    private final MetricsLog metrics;
    private final Progress progress;
    private final int loggingSteps;
    private final boolean loggingFirstStep;
    private DpoMetrics window = new DpoMetrics();
    private long windowTokens;
    private long windowStart = System.nanoTime();

    TrainLogger(MetricsLog metrics, Progress progress, int loggingSteps, boolean loggingFirstStep) {
        this.metrics = metrics;
        this.progress = progress;
        this.loggingSteps = loggingSteps;
        this.loggingFirstStep = loggingFirstStep;
    }

    /**
     * Adds step {@code stepsDone}'s outcome (null: no pair of it was usable) and logs the window when due.
     *
     * @param counters extra values for the record (learning rate, skip counters)
     */
    void step(long stepsDone, boolean last, double epoch, StepRunner.Outcome outcome, Map<String, ?> counters)
            throws IOException {
        if (outcome != null) {
            if (outcome.finite()) {
                window.addStep(outcome.metrics());
            }
            windowTokens += outcome.tokens();
        }
        boolean due = stepsDone % loggingSteps == 0 || last || (loggingFirstStep && stepsDone == 1);
        if (!due || window.pairs() == 0) {
            progress.update(stepsDone, "");
            return;
        }
        double seconds = (System.nanoTime() - windowStart) / 1e9;
        Map<String, Object> record = new LinkedHashMap<>(window.toMap(""));
        record.putAll(counters);
        record.put(MetricsLog.PAIRS_PER_SECOND, window.pairs() / seconds);
        record.put(MetricsLog.TOKENS_PER_SECOND, windowTokens / seconds);
        metrics.log(stepsDone, epoch, record);
        progress.update(stepsDone, Progress.extra(window.meanLoss(), window.pairs() / seconds, windowTokens / seconds));
        window = new DpoMetrics();
        windowTokens = 0;
        windowStart = System.nanoTime();
    }

    /** An evaluation's metrics at {@code stepsDone}, logged and shown. */
    void eval(long stepsDone, double epoch, Map<String, Double> eval) throws IOException {
        metrics.log(stepsDone, epoch, eval);
        progress.message("step " + stepsDone + ": " + format(eval));
    }

    void message(String line) {
        progress.message(line);
    }

    static String format(Map<String, Double> m) {
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> {
            if (k.endsWith("loss") || k.endsWith("accuracies") || k.endsWith("margins")) {
                b.append(k).append(' ').append(String.format(java.util.Locale.ROOT, "%.4f", v)).append("  ");
            }
        });
        return b.toString().strip();
    }
}
