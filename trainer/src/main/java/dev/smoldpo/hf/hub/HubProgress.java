package dev.smoldpo.hf.hub;

import java.io.PrintStream;

/**
 * Download progress, called on the downloading thread after every chunk and once more when a file is
 * finished ({@code bytesDone == bytesTotal}, also for files that were already present).
 */
@FunctionalInterface
public interface HubProgress {
    /**
     * @param file the file's path inside the repository, e.g. {@code model.safetensors}
     * @param bytesDone bytes on disk so far, including bytes kept from an earlier (resumed) attempt
     * @param bytesTotal the file's size, or -1 when the server did not say
     */
    void update(String file, long bytesDone, long bytesTotal);

    /** Reports nothing. */
    HubProgress NONE = (file, done, total) -> {};

    /** A single updating line on standard error (one line per file when it is not a terminal). */
    static HubProgress console() {
        return new ConsoleProgress(System.err, System.console() != null);
    }

    /** A single updating line on {@code out}; {@code interactive=false} prints one line per finished file. */
    static HubProgress console(PrintStream out, boolean interactive) {
        return new ConsoleProgress(out, interactive);
    }
}
