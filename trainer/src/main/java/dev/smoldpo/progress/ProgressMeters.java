package dev.smoldpo.progress;

import java.io.Console;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Picks how progress is shown: a live bar (me.tongfei progressbar) on an interactive terminal, plain
 * periodic log lines otherwise (CI, output redirected to a file). The system property
 * {@value #MODE_PROPERTY} = bar | plain | none forces a variant for every meter of the process (training
 * and downloads alike).
 */
public final class ProgressMeters {
    /** The system property that forces a variant: {@code bar}, {@code plain} or {@code none}. */
    public static final String MODE_PROPERTY = "smoldpo.progress";

    /** How often plain lines are printed at most (besides the last one). */
    public static final Duration PLAIN_INTERVAL = Duration.ofSeconds(30);

    /** A rate measured over less time than this is noise (a file that came in one chunk), so none is shown. */
    static final Duration MIN_RATE_WINDOW = Duration.ofMillis(50);

    /** The variants. */
    public enum Mode {
        BAR,
        PLAIN,
        NONE
    }

    private ProgressMeters() {}

    /** {@link #MODE_PROPERTY} when set, else a bar on an interactive terminal and plain lines elsewhere. */
    public static Mode mode() {
        String forced = System.getProperty(MODE_PROPERTY, "").toLowerCase(Locale.ROOT);
        return switch (forced) {
            case "none" -> Mode.NONE;
            case "bar" -> Mode.BAR;
            case "plain" -> Mode.PLAIN;
            default -> isInteractive() ? Mode.BAR : Mode.PLAIN;
        };
    }

    /** Whether stdout looks like an interactive terminal (not redirected, not a dumb terminal, not CI). */
    public static boolean isInteractive() {
        Console c = System.console();
        if (c == null || !c.isTerminal()) {
            return false;
        }
        String term = System.getenv("TERM");
        return System.getenv("CI") == null && (term == null || !term.equals("dumb"));
    }

    /**
     * A meter in the variant {@link #mode()} picks.
     *
     * @param total the amount at the end, or -1 when unknown
     * @param initial the amount already done before this session (a resumed run): rate and ETA count only the rest
     */
    public static ProgressMeter console(String task, long total, long initial, PrintStream out, ProgressUnit unit) {
        return open(mode(), task, total, initial, out, unit);
    }

    /** A meter in the given variant; plain lines come at most every {@link #PLAIN_INTERVAL}. */
    public static ProgressMeter open(Mode mode, String task, long total, long initial, PrintStream out, ProgressUnit unit) {
        return switch (mode) {
            case NONE -> ProgressMeter.NONE;
            case BAR -> bar(task, total, initial, out, unit);
            case PLAIN -> plain(task, total, initial, out, unit, PLAIN_INTERVAL, System::nanoTime);
        };
    }

    /** A live progress bar (percentage, amounts, elapsed, ETA, extra text) redrawn on {@code out}. */
    public static ProgressMeter bar(String task, long total, long initial, PrintStream out, ProgressUnit unit) {
        ProgressBarBuilder builder = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(total)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setUpdateIntervalMillis(500)
                .startsFrom(initial, Duration.ZERO);
        return new BarMeter(unit.styleBar(builder), out);
    }

    /**
     * Plain log lines, one when at least {@code interval} has passed since the last and one at the end.
     *
     * @param nanoClock the time source ({@code System::nanoTime}; tests pass their own)
     */
    public static ProgressMeter plain(String task, long total, long initial, PrintStream out, ProgressUnit unit,
            Duration interval, LongSupplier nanoClock) {
        return new PlainProgressLines(task, total, initial, out, unit, interval, nanoClock);
    }

    /** {@code h:mm:ss}. */
    public static String formatDuration(Duration d) {
        long s = Math.max(0, d.toSeconds());
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
