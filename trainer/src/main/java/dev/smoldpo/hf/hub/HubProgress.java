package dev.smoldpo.hf.hub;

import dev.smoldpo.progress.ProgressMeters;
import dev.smoldpo.progress.ProgressUnit;
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

    /**
     * On standard error, one meter per file in the variant {@link ProgressMeters#mode()} picks: a live bar
     * with sizes and MiB/s on an interactive terminal, plain periodic lines otherwise, nothing with
     * {@code -Dsmoldpo.progress=none}.
     */
    static HubProgress console() {
        return new PerFileMeters((file, total, initial) ->
                ProgressMeters.console(file, total, initial, System.err, ProgressUnit.BYTES));
    }

    /**
     * On {@code out}: a live bar per file when {@code interactive}, else plain lines (periodic, and one when
     * a file is finished).
     */
    static HubProgress console(PrintStream out, boolean interactive) {
        ProgressMeters.Mode mode = interactive ? ProgressMeters.Mode.BAR : ProgressMeters.Mode.PLAIN;
        return new PerFileMeters((file, total, initial) ->
                ProgressMeters.open(mode, file, total, initial, out, ProgressUnit.BYTES));
    }
}
