package dev.smoldpo.progress;

import java.io.PrintStream;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * The log-friendly variant: one line when at least the interval has passed since the last and one at the
 * end, e.g. {@code fit: step 120/1000 (12.0%) elapsed 0:10:05 eta 1:13:20 | <extra>} or
 * {@code model.safetensors: 230.0 MiB / 513.0 MiB (44.8%) elapsed 0:00:30 eta 0:00:37 | 7.7 MiB/s}.
 */
final class PlainProgressLines implements ProgressMeter {
    private final String task;
    private final long total;
    private final long initial;
    private final PrintStream out;
    private final ProgressUnit unit;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final long start;
    private long lastPrint;
    private long lastPrinted = -1;

    PlainProgressLines(String task, long total, long initial, PrintStream out, ProgressUnit unit, Duration interval,
            LongSupplier clock) {
        this.task = task;
        this.total = total;
        this.initial = initial;
        this.out = out;
        this.unit = unit;
        this.intervalNanos = interval.toNanos();
        this.clock = clock;
        this.start = clock.getAsLong();
        this.lastPrint = start;
    }

    @Override
    public synchronized void update(long current, String extra) {
        long now = clock.getAsLong();
        boolean last = total >= 0 && current >= total;
        if (current == lastPrinted || (!last && now - lastPrint < intervalNanos)) {
            return;
        }
        lastPrint = now;
        lastPrinted = current;
        StringBuilder b = new StringBuilder();
        b.append(task).append(": ").append(unit.amount(current, total));
        b.append(" elapsed ").append(ProgressMeters.formatDuration(Duration.ofNanos(now - start)));
        // the ETA and the rate count only this session: a resumed run's earlier work took no time here
        long done = current - initial;
        if (done > 0 && total > current) {
            b.append(" eta ").append(ProgressMeters.formatDuration(Duration.ofNanos((long) ((double) (now - start) / done * (total - current)))));
        }
        boolean measured = done > 0 && now - start >= ProgressMeters.MIN_RATE_WINDOW.toNanos();
        String rate = measured ? unit.rate(done / ((now - start) / 1e9)) : null;
        if (rate != null) {
            b.append(" | ").append(rate);
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
