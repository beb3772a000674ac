package dev.smoldpo.launcher;

/**
 * Runs in the relaunched JVM only: stops it as soon as the launcher JVM that started it is gone.
 *
 * <p>The launcher stops its child from a shutdown hook on SIGTERM and SIGINT, but SIGKILL (kill -9,
 * the OOM killer, a CI job killing the PID it started) runs no hook, and the child would otherwise
 * train on as an orphan. Linux re-parents an orphan the moment its parent dies (even before the
 * parent is reaped), so the child's parent PID changing is the reliable sign; polling it is the only
 * portable way a JVM has to notice.
 */
final class ParentWatchdog {
    /** System property the launcher sets on the relaunched JVM: its own PID. */
    static final String PARENT_PID_PROPERTY = "smoldpo.launcher.pid";
    static final long POLL_MILLIS = 200;
    /** The child ends as if it had been sent SIGTERM (128 + 15); nobody is left to read it. */
    static final int EXIT_CODE = 143;
    /** How long the child's own shutdown hooks may take before the JVM is halted regardless. */
    static final long SHUTDOWN_GRACE_MILLIS = 10_000;

    private ParentWatchdog() {}

    /** Starts the watchdog when this JVM was relaunched by the launcher (the property is set); else does nothing. */
    static void startIfRelaunched() {
        String value = System.getProperty(PARENT_PID_PROPERTY);
        if (value == null) {
            return;
        }
        long parentPid;
        try {
            parentPid = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PARENT_PID_PROPERTY + " must be a process id, got '" + value + "'");
        }
        // Normally the launcher is our direct parent. Should something sit in between, fall back to
        // asking whether the launcher's PID is still alive (blind to PID reuse, but better than nothing).
        boolean directChild = currentParentPid() == parentPid;
        Thread watchdog = new Thread(() -> watch(parentPid, directChild), "smoldpo-parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private static void watch(long parentPid, boolean directChild) {
        while (parentAlive(parentPid, directChild)) {
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
        }
        System.err.println("smoldpo: the launcher process " + parentPid + " is gone; stopping");
        Thread halter = new Thread(() -> {
            try {
                Thread.sleep(SHUTDOWN_GRACE_MILLIS);
            } catch (InterruptedException ignored) {
                // halting now is just as right
            }
            Runtime.getRuntime().halt(EXIT_CODE);
        }, "smoldpo-parent-watchdog-halt");
        halter.setDaemon(true);
        halter.start();
        System.exit(EXIT_CODE);
    }

    private static boolean parentAlive(long parentPid, boolean directChild) {
        if (directChild) {
            return currentParentPid() == parentPid;
        }
        return ProcessHandle.of(parentPid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static long currentParentPid() {
        return ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
    }
}
