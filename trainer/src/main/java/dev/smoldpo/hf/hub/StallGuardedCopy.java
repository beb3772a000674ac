package dev.smoldpo.hf.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Copies a response body with a stall watchdog. {@link java.net.http.HttpRequest#timeout} only limits the
 * wait for the response headers; a body that stops arriving would block {@code read} for ever. A watchdog
 * thread therefore closes the stream once no byte has come for the read timeout, and the copy reports that
 * as a stall ({@link HubException.Kind#OFFLINE}) rather than as a lost connection.
 */
final class StallGuardedCopy {
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hub-download-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final Duration readTimeout;

    StallGuardedCopy(Duration readTimeout) {
        this.readTimeout = readTimeout;
    }

    /**
     * Copies {@code in} to {@code out} until the end of {@code in}.
     *
     * @param what names the download in messages, e.g. {@code model.safetensors from org/name}
     * @param onChunk told the bytes copied so far after every chunk
     * @return the bytes copied
     */
    long copy(InputStream in, OutputStream out, String what, LongConsumer onChunk) throws HubException {
        AtomicLong last = new AtomicLong(System.nanoTime());
        AtomicBoolean stalled = new AtomicBoolean();
        long limit = readTimeout.toNanos();
        long period = Math.max(10_000_000L, limit / 4);
        ScheduledFuture<?> watch = WATCHDOG.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - last.get() > limit && stalled.compareAndSet(false, true)) {
                closeQuietly(in);
            }
        }, period, period, TimeUnit.NANOSECONDS);
        long n = 0;
        try {
            byte[] buf = new byte[1 << 16];
            while (true) {
                int r;
                try {
                    r = in.read(buf);
                } catch (IOException e) {
                    if (stalled.get()) {
                        throw stall(what);
                    }
                    throw new HubException(HubException.Kind.OFFLINE, "connection lost while downloading " + what
                            + " after " + n + " bytes (" + e + "); run again to resume", e);
                }
                if (r < 0) {
                    break;
                }
                last.set(System.nanoTime());
                try {
                    out.write(buf, 0, r);
                } catch (IOException e) {
                    throw new HubException(HubException.Kind.IO, "cannot write " + what + ": " + e, e);
                }
                n += r;
                onChunk.accept(n);
            }
            if (stalled.get()) {
                throw stall(what);
            }
            try {
                out.flush();
            } catch (IOException e) {
                throw new HubException(HubException.Kind.IO, "cannot write " + what + ": " + e, e);
            }
            return n;
        } finally {
            watch.cancel(false);
        }
    }

    private HubException stall(String what) {
        return new HubException(HubException.Kind.OFFLINE, "no data for " + readTimeout.toMillis() + " ms while downloading "
                + what + " (read timeout); run again to resume, or offline? pass a local folder instead");
    }

    static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // closing is only a way to wake up the reader; a failure to close changes nothing
        }
    }
}
