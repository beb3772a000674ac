package dev.smoldpo.progress;

import java.util.Locale;
import me.tongfei.progressbar.ProgressBarBuilder;

/** What a {@link ProgressMeter} counts, and so how amounts and rates are written. */
public enum ProgressUnit {
    /** Optimizer steps: {@code step 120/1000 (12.0%)}; no rate (the caller's extra text has pairs/s, tok/s). */
    STEPS {
        @Override
        String amount(long current, long total) {
            return "step " + current + "/" + total + percent(current, total);
        }

        @Override
        String rate(double perSecond) {
            return null;
        }

        @Override
        ProgressBarBuilder styleBar(ProgressBarBuilder bar) {
            return bar.setUnit(" steps", 1);
        }
    },

    /**
     * Bytes: {@code 230.0 MiB / 513.0 MiB (44.8%)} and {@code 7.7 MiB/s}, each amount in the unit that suits
     * it (a 2 KiB config file and 500 MiB of weights alike).
     */
    BYTES {
        @Override
        String amount(long current, long total) {
            return total < 0 ? bytes(current) : bytes(current) + " / " + bytes(total) + percent(current, total);
        }

        @Override
        String rate(double perSecond) {
            return bytes((long) perSecond) + "/s";
        }

        @Override
        ProgressBarBuilder styleBar(ProgressBarBuilder bar) {
            // the library's own renderer shows every amount in one fixed unit; bytes need one per amount
            return bar.setRenderer(new ByteBarRenderer());
        }
    };

    /** The amount done for a plain log line. */
    abstract String amount(long current, long total);

    /** A rate for a plain log line, or null when this unit shows none. */
    abstract String rate(double perSecond);

    /** Sets how the live bar shows this unit. */
    abstract ProgressBarBuilder styleBar(ProgressBarBuilder bar);

    private static String percent(long current, long total) {
        return total > 0 ? String.format(Locale.ROOT, " (%.1f%%)", 100.0 * current / total) : "";
    }

    /** {@code 812 B}, {@code 2.0 KiB}, {@code 488.3 MiB}, {@code 1.2 GiB}. */
    public static String bytes(long n) {
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
