package dev.smoldpo.train;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C (SIGINT) or SIGTERM during {@code fit} or {@code grpo}: instead of dying mid-step, the run
 * finishes the step it is in, saves a checkpoint, its metrics, plots and summary, and the command then
 * exits with the signal's usual status (130, 143: {@link #exitStatus}).
 *
 * <p>The signals are caught with handlers of our own while the run lasts, not with a JVM shutdown hook:
 * a signal that starts the JVM's shutdown also runs ONNX Runtime's own hook, which closes its
 * environment while the step is still running, so that step failed ("Attempt to use DefaultLogger but
 * none has been registered") and, as the JVM halted once our hook returned, without a word. A second
 * Ctrl-C ends the JVM at once; a SIGTERM while stopping is ignored, since the launcher passes a Ctrl-C
 * on to this JVM as a SIGTERM. {@code kill -9} cannot be caught; the last periodic checkpoint is what a
 * resume then starts from.
 */
public final class GracefulStop implements AutoCloseable {
    private static final String[] SIGNALS = {"INT", "TERM"};
    /** 128 + the number of the stop signal a run caught since the last {@link #exitStatus}; 0 when none. */
    private static final AtomicInteger caughtStatus = new AtomicInteger();

    private final PrintStream out;
    private final Map<Signal, SignalHandler> previous = new LinkedHashMap<>();
    private volatile boolean requested;

    public GracefulStop(PrintStream out) {
        this.out = out;
        for (String name : SIGNALS) {
            Signal signal = new Signal(name);
            try {
                previous.put(signal, Signal.handle(signal, this::caught));
            } catch (IllegalArgumentException inUseByTheVm) {
                // e.g. under -Xrs: the JVM's own handling stays, so this signal ends the run at once
            }
        }
    }

    private void caught(Signal signal) {
        if (requested) {
            if (signal.getName().equals("INT")) {
                // a second Ctrl-C: the JVM's own handling, which ends it at once
                out.println("second Ctrl-C: stopping now, without saving");
                out.flush();
                close();
                Signal.raise(signal);
            }
            return;
        }
        caughtStatus.compareAndSet(0, 128 + signal.getNumber());
        request();
    }

    /** Asks the run to stop after its current step, as a signal does (tests call it directly). */
    void request() {
        requested = true;
        out.println();
        out.println("stop requested: finishing the current step, then saving a checkpoint (Ctrl-C again to stop at "
                + "once, without saving)");
        out.flush();
    }

    /** Whether a signal asked the run to stop. */
    public boolean requested() {
        return requested;
    }

    /**
     * The status a command that ended with {@code code} exits with: 128 + the signal's number when a run
     * was stopped by a signal (130 for SIGINT, 143 for SIGTERM, as had the JVM ended on it), else {@code
     * code}. Forgets the signal, so that a later command in the same JVM (tests) starts clean.
     */
    public static int exitStatus(int code) {
        int status = caughtStatus.getAndSet(0);
        return status != 0 ? status : code;
    }

    /** The run has written what it had to: the signals get their previous handlers back. */
    @Override
    public void close() {
        previous.forEach(Signal::handle);
    }
}
