package dev.smoldpo.train.support;

import dev.smoldpo.progress.ProgressMeter;
import dev.smoldpo.progress.ProgressMeters;
import dev.smoldpo.progress.ProgressUnit;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress of a run in optimizer steps, with an ETA and a free-form extra text (loss, pairs/s, tokens/s).
 * {@link #console} picks a live progress bar (me.tongfei progressbar) on an interactive terminal and
 * plain periodic log lines otherwise (CI, output redirected to a file); {@link #NONE} prints nothing.
 * The system property {@code smoldpo.progress} = bar | plain | none forces a variant. The display itself
 * is {@link ProgressMeters}'s, shared with the downloads; this type adds what is particular to training.
 */
public interface Progress extends AutoCloseable {
    /** Reports that {@code current} steps (of the total) are done, with an extra text (may be empty). */
    void update(long current, String extra);

    /** Prints a line (e.g. an evaluation result) without garbling the bar. */
    void message(String line);

    @Override
    void close();

    /** Prints nothing. */
    Progress NONE = of(ProgressMeter.NONE);

    /** A step counter shown by {@code meter}. */
    static Progress of(ProgressMeter meter) {
        return new Progress() {
            @Override
            public void update(long current, String extra) {
                meter.update(current, extra);
            }

            @Override
            public void message(String line) {
                meter.message(line);
            }

            @Override
            public void close() {
                meter.close();
            }
        };
    }

    /** The usual extra text: {@code loss 0.6931 | 0.091 pairs/s | 45.1 tok/s}. */
    static String extra(double loss, double pairsPerSecond, double tokensPerSecond) {
        return String.format(Locale.ROOT, "loss %.4f | %.3g pairs/s | %.3g tok/s", loss, pairsPerSecond, tokensPerSecond);
    }

    /** Whether stdout looks like an interactive terminal (not redirected, not a dumb terminal, not CI). */
    static boolean isInteractive() {
        return ProgressMeters.isInteractive();
    }

    /**
     * A bar on a terminal, plain lines (every 30 s and at the end) otherwise.
     *
     * @param initial steps already done (a resumed run): the ETA counts only the steps of this session
     */
    static Progress console(String task, long total, long initial, PrintStream out) {
        return of(ProgressMeters.console(task, total, initial, out, ProgressUnit.STEPS));
    }

    /** A live progress bar (percentage, steps, elapsed, ETA, extra text) redrawn on {@code out}. */
    static Progress bar(String task, long total, long initial, PrintStream out) {
        return of(ProgressMeters.bar(task, total, initial, out, ProgressUnit.STEPS));
    }

    /**
     * Plain log lines, one when at least {@code interval} has passed since the last and one at the last
     * step: {@code task: step 120/1000 (12.0%) elapsed 0:10:05 eta 1:13:20 | <extra>}.
     */
    static Progress plain(String task, long total, long initial, PrintStream out, Duration interval, LongSupplier nanoClock) {
        return of(ProgressMeters.plain(task, total, initial, out, ProgressUnit.STEPS, interval, nanoClock));
    }

    /** {@code h:mm:ss}. */
    static String formatDuration(Duration d) {
        return ProgressMeters.formatDuration(d);
    }
}
