package dev.smoldpo.hf.hub;

import dev.smoldpo.progress.ProgressMeter;

/**
 * Shows download progress as one {@link ProgressMeter} per file: a meter is opened at a file's first
 * update (counting from the bytes already on disk, so a resumed download's rate and ETA are this session's)
 * and closed when the file is finished, which leaves one finished line per file (the transfer reports a
 * finished file once after its last chunk and once more after the checks; the second report is dropped).
 */
final class PerFileMeters implements HubProgress {
    /** Opens the meter of one file. */
    @FunctionalInterface
    interface Opener {
        /**
         * @param file the file's path inside the repository (the meter's task name)
         * @param total its size, or -1 when unknown
         * @param initial bytes already on disk when this session started on it
         */
        ProgressMeter open(String file, long total, long initial);
    }

    private final Opener opener;
    private String file;
    private long total;
    private ProgressMeter meter;
    /** The file whose meter the previous report closed, and its size: the transfer reports a finished file twice. */
    private String finished;
    private long finishedSize = -1;

    PerFileMeters(Opener opener) {
        this.opener = opener;
    }

    @Override
    public synchronized void update(String file, long bytesDone, long bytesTotal) {
        boolean repeat = file.equals(finished) && bytesDone == finishedSize && bytesTotal == finishedSize;
        finished = null; // only the very next report can be the repeat
        if (repeat) {
            return; // the last chunk already showed the file finished; the report after the checks adds nothing
        }
        if (meter == null || !file.equals(this.file) || bytesTotal != total) {
            // a new file, or the server told a different size on a retry: start a meter that shows it
            closeMeter();
            this.file = file;
            this.total = bytesTotal;
            this.meter = opener.open(file, bytesTotal, bytesDone);
        }
        meter.update(bytesDone, "");
        if (bytesTotal >= 0 && bytesDone >= bytesTotal) {
            closeMeter();
            finished = file;
            finishedSize = bytesDone;
        }
    }

    private void closeMeter() {
        if (meter != null) {
            meter.close();
            meter = null;
            file = null;
        }
    }
}
