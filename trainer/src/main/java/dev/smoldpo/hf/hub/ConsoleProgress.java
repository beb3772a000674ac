package dev.smoldpo.hf.hub;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Prints progress as one line rewritten in place with {@code \r} (at most five times a second), ending
 * it with a newline when the file is finished. Without a terminal it prints only the finished line.
 */
final class ConsoleProgress implements HubProgress {
    private static final long MIN_INTERVAL_NANOS = 200_000_000L;

    private final PrintStream out;
    private final boolean interactive;
    private String file;
    private long startNanos;
    private long startBytes;
    private long lastPrintNanos;
    private int lastWidth;

    ConsoleProgress(PrintStream out, boolean interactive) {
        this.out = out;
        this.interactive = interactive;
    }

    @Override
    public synchronized void update(String file, long bytesDone, long bytesTotal) {
        long now = System.nanoTime();
        if (!file.equals(this.file)) {
            this.file = file;
            startNanos = now;
            startBytes = bytesDone;
            lastPrintNanos = 0;
            lastWidth = 0;
        }
        boolean finished = bytesTotal >= 0 && bytesDone >= bytesTotal;
        if (!finished && (!interactive || now - lastPrintNanos < MIN_INTERVAL_NANOS)) {
            return;
        }
        lastPrintNanos = now;
        String line = format(file, bytesDone, bytesTotal, now - startNanos, bytesDone - startBytes);
        if (interactive) {
            int pad = Math.max(0, lastWidth - line.length());
            out.print("\r" + line + " ".repeat(pad));
            lastWidth = line.length();
            if (finished) {
                out.println();
            }
        } else {
            out.println(line);
        }
        out.flush();
        if (finished) {
            this.file = null;
        }
    }

    static String format(String file, long done, long total, long elapsedNanos, long transferred) {
        StringBuilder sb = new StringBuilder("  ").append(file).append("  ").append(bytes(done));
        if (total >= 0) {
            sb.append(" / ").append(bytes(total));
            long pct = total == 0 ? 100 : Math.min(100, done * 100 / total);
            sb.append(String.format(Locale.ROOT, "  %3d%%", pct));
        }
        if (elapsedNanos > 50_000_000L && transferred > 0) {
            sb.append("  ").append(bytes((long) (transferred / (elapsedNanos / 1e9)))).append("/s");
        }
        return sb.toString();
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
