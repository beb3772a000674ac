package dev.smoldpo.progress;

import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBarRenderer;
import me.tongfei.progressbar.ProgressState;

/**
 * Draws a download's bar line:
 * {@code   model.safetensors  230.0 MiB / 513.0 MiB   44% │█████████       │ 7.7 MiB/s eta 0:00:37}.
 * The amounts and the rate each get the byte unit that suits them; the bar keeps one width (room is kept
 * for the rate and ETA) and is left out when the line has no room for it or the size is unknown. The rate
 * and the ETA count only the bytes of this session, not those kept from an earlier, resumed attempt.
 */
final class ByteBarRenderer implements ProgressBarRenderer {
    private static final int MAX_BAR = 30;
    /** Room kept for the rate and ETA, so that the bar keeps its width while they come and change. */
    private static final int TAIL = " 999.9 MiB/s eta 9:59:59".length();
    /** Narrower than this the bar says nothing the percentage does not; the rate and ETA matter more. */
    private static final int MIN_BAR = 5;

    @Override
    public String render(ProgressState state, int maxLength) {
        long done = state.getCurrent();
        long total = state.isIndefinite() ? -1 : state.getMax();
        StringBuilder line = new StringBuilder("  ").append(state.getTaskName()).append("  ");
        if (total >= 0) {
            String max = ProgressUnit.bytes(total);
            long pct = total == 0 ? 100 : Math.min(100, done * 100 / total);
            line.append(String.format(Locale.ROOT, "%" + max.length() + "s / %s  %3d%%", ProgressUnit.bytes(done), max, pct));
        } else {
            line.append(ProgressUnit.bytes(done));
        }
        int room = Math.min(MAX_BAR, maxLength - line.length() - TAIL - 4);
        if (total > 0 && room >= MIN_BAR) {
            int filled = (int) (room * Math.min(1.0, (double) done / total));
            line.append("  │").append("█".repeat(filled)).append(" ".repeat(room - filled)).append('│');
        }
        return line.append(rateAndEta(state, done, total)).toString();
    }

    private static String rateAndEta(ProgressState state, long done, long total) {
        Duration elapsed = state.getElapsedAfterStart();
        long transferred = done - state.getStart();
        if (elapsed.compareTo(ProgressMeters.MIN_RATE_WINDOW) < 0 || transferred <= 0) {
            return "";
        }
        double perSecond = transferred / (elapsed.toNanos() / 1e9);
        StringBuilder tail = new StringBuilder(" ").append(ProgressUnit.BYTES.rate(perSecond));
        if (total > done) {
            tail.append(" eta ").append(ProgressMeters.formatDuration(Duration.ofNanos((long) ((total - done) / perSecond * 1e9))));
        }
        return tail.toString();
    }
}
