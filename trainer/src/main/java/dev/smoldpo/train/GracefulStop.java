package dev.smoldpo.train;

import java.io.PrintStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (SIGINT) or SIGTERM during {@code fit}: instead of dying mid-step, the run finishes the step
 * it is in, saves a checkpoint, its metrics, plots and summary, and then lets the JVM exit. A JVM shutdown
 * hook asks for the stop and waits (up to {@link #GRACE_SECONDS}) for the run to say it is done.
 * {@code kill -9} cannot be caught; the last periodic checkpoint is what a resume then starts from.
 */
public final class GracefulStop implements AutoCloseable {
    static final int GRACE_SECONDS = 120;

    private volatile boolean requested;
    private final CountDownLatch done = new CountDownLatch(1);
    private final Thread hook;

    public GracefulStop(PrintStream out) {
        this.hook = new Thread(() -> {
            requested = true;
            out.println();
            out.println("stop requested: finishing the current step, then saving a checkpoint (kill -9 to abort)");
            out.flush();
            try {
                done.await(GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "smoldpo-graceful-stop");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Whether a signal asked the run to stop. */
    public boolean requested() {
        return requested;
    }

    /** The run has written what it had to: a waiting shutdown may proceed. */
    @Override
    public void close() {
        done.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running (a signal came): it returns now that done is counted down
        }
    }
}
