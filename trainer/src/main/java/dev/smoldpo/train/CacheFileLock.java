package dev.smoldpo.train;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A lock shared by every process on this machine, on a sibling lock file: shared for readers,
 * exclusive for writers. The OS lock (fcntl) is per process, and Java refuses a second lock on the
 * same file from the same JVM, so threads and instances inside one JVM first queue on an in-process
 * lock for the same file; the OS lock then only ever arbitrates between processes. The OS releases
 * it when a process dies, so a crash never leaves it held.
 */
final class CacheFileLock {
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    /** The work done under the lock. */
    @FunctionalInterface
    interface Work<T> {
        T run() throws Exception;
    }

    private final Path lockFile;

    CacheFileLock(Path lockFile) {
        this.lockFile = lockFile.toAbsolutePath().normalize();
    }

    Path file() {
        return lockFile;
    }

    /** Runs {@code work} holding the lock, shared (many readers at once) or exclusive (one writer, no readers). */
    <T> T with(boolean shared, Work<T> work) throws Exception {
        ReentrantLock local = IN_PROCESS.computeIfAbsent(lockFile, f -> new ReentrantLock());
        local.lock();
        try {
            Files.createDirectories(lockFile.getParent());
        } catch (IOException e) {
            local.unlock();
            throw new IOException("cannot create " + lockFile.getParent() + ": " + e, e);
        }
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            FileLock os;
            try {
                os = channel.lock(0, Long.MAX_VALUE, shared);
            } catch (IOException e) {
                throw new IOException("cannot lock " + lockFile + ": " + e.getMessage(), e);
            }
            try {
                return work.run();
            } finally {
                os.release();
            }
        } finally {
            local.unlock();
        }
    }
}
