package dev.smoldpo.train.support;

import java.io.Console;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a run in optimizer steps, with an ETA and a free-form extra text (loss, pairs/s, tokens/s).
 * {@link #console} picks a live progress bar (me.tongfei progressbar) on an interactive terminal and
 * plain periodic log lines otherwise (CI, output redirected to a file); {@link #NONE} prints nothing.
 * The system property {@code smoldpo.progress} = bar | plain | none forces a variant.
 */
public interface Progress extends AutoCloseable {
    /** Reports that {@code current} steps (of the total) are done, with an extra text (may be empty). */
    void update(long current, String extra);

    /** Prints a line (e.g. an evaluation result) without garbling the bar. */
    void message(String line);

    @Override
    void close();

    /** Prints nothing. */
    Progress NONE = new Progress() {
        @Override
        public void update(long current, String extra) {}

        @Override
        public void message(String line) {}

        @Override
        public void close() {}
    };

    /** The usual extra text: {@code loss 0.6931 | 0.091 pairs/s | 45.1 tok/s}. */
    static String extra(double loss, double pairsPerSecond, double tokensPerSecond) {
        return String.format(Locale.ROOT, "loss %.4f | %.3g pairs/s | %.3g tok/s", loss, pairsPerSecond, tokensPerSecond);
    }

    /** Whether stdout looks like an interactive terminal (not redirected, not a dumb terminal, not CI). */
    static boolean isInteractive() {
        Console c = System.console();
        if (c == null || !c.isTerminal()) {
            return false;
        }
        String term = System.getenv("TERM");
        return System.getenv("CI") == null && (term == null || !term.equals("dumb"));
    }

    /**
     * A bar on a terminal, plain lines (every 30 s and at the end) otherwise.
     *
     * @param initial steps already done (a resumed run): the ETA counts only the steps of this session
     */
    static Progress console(String task, long total, long initial, PrintStream out) {
        String forced = System.getProperty("smoldpo.progress", "").toLowerCase(Locale.ROOT);
        return switch (forced) {
            case "none" -> NONE;
            case "bar" -> bar(task, total, initial, out);
            case "plain" -> plain(task, total, initial, out, Duration.ofSeconds(30), System::nanoTime);
            default -> isInteractive() ? bar(task, total, initial, out)
                    : plain(task, total, initial, out, Duration.ofSeconds(30), System::nanoTime);
        };
    }

    /** A live progress bar (percentage, steps, elapsed, ETA, extra text) redrawn on {@code out}. */
    static Progress bar(String task, long total, long initial, PrintStream out) {
        ProgressBar pb = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(total)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setUpdateIntervalMillis(500)
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(out))
                .startsFrom(initial, Duration.ZERO)
                .setUnit(" steps", 1)
                .build();
        return new Progress() {
            @Override
            public void update(long current, String extra) {
                pb.setExtraMessage(extra == null ? "" : " " + extra);
                pb.stepTo(current);
            }

            @Override
            public void message(String line) {
                synchronized (out) {
                    out.print("\r\033[K");
                    out.println(line);
                }
                pb.refresh();
            }

            @Override
            public void close() {
                pb.close();
            }
        };
    }

    /**
     * Plain log lines, one when at least {@code interval} has passed since the last and one at the last
     * step: {@code task: step 120/1000 (12.0%) elapsed 0:10:05 eta 1:13:20 | <extra>}.
     */
    static Progress plain(String task, long total, long initial, PrintStream out, Duration interval, LongSupplier nanoClock) {
        return new Plain(task, total, initial, out, interval.toNanos(), nanoClock);
    }

    /** {@code h:mm:ss}. */
    static String formatDuration(Duration d) {
        long s = Math.max(0, d.toSeconds());
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    /** The plain, log-friendly variant. */
    final class Plain implements Progress {
        private final String task;
        private final long total;
        private final long initial;
        private final PrintStream out;
        private final long intervalNanos;
        private final LongSupplier clock;
        private final long start;
        private long lastPrint;
        private long lastPrinted = -1;

        Plain(String task, long total, long initial, PrintStream out, long intervalNanos, LongSupplier clock) {
            this.task = task;
            this.total = total;
            this.initial = initial;
            this.out = out;
            this.intervalNanos = intervalNanos;
            this.clock = clock;
            this.start = clock.getAsLong();
            this.lastPrint = start;
        }

        @Override
        public synchronized void update(long current, String extra) {
            long now = clock.getAsLong();
            boolean last = current >= total;
            if (current == lastPrinted || (!last && now - lastPrint < intervalNanos)) {
                return;
            }
            lastPrint = now;
            lastPrinted = current;
            Duration elapsed = Duration.ofNanos(now - start);
            StringBuilder b = new StringBuilder();
            b.append(task).append(": step ").append(current).append('/').append(total);
            if (total > 0) {
                b.append(String.format(Locale.ROOT, " (%.1f%%)", 100.0 * current / total));
            }
            b.append(" elapsed ").append(formatDuration(elapsed));
            long done = current - initial;
            if (done > 0 && total > current) {
                b.append(" eta ").append(formatDuration(Duration.ofNanos((long) ((double) (now - start) / done * (total - current)))));
            }
            if (extra != null && !extra.isEmpty()) {
                b.append(" | ").append(extra);
            }
            out.println(b);
        }

        @Override
        public void message(String line) {
            out.println(line);
        }

        @Override
        public void close() {
            out.flush();
        }
    }
}
