package dev.smoldpo.progress;

/**
 * Progress of one task towards a total (optimizer steps, bytes of a file), shown by whatever
 * {@link ProgressMeters} picked: a live bar, plain log lines, or nothing.
 */
public interface ProgressMeter extends AutoCloseable {
    /** Reports that {@code current} (of the total) is done, with an extra text (may be empty). */
    void update(long current, String extra);

    /** Prints a line (e.g. an evaluation result) without garbling the bar. */
    void message(String line);

    @Override
    void close();

    /** Prints nothing. */
    ProgressMeter NONE = new ProgressMeter() {
        @Override
        public void update(long current, String extra) {}

        @Override
        public void message(String line) {}

        @Override
        public void close() {}
    };
}
