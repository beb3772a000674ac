package dev.smoldpo.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One run's own record of the reference log-probs it computed and has not yet merged into the shared
 * cache: an append-only text file, written as values are computed, so a run that is killed loses
 * nothing; the next run to open the cache merges what the dead run left.
 *
 * <p>A live run holds an OS lock on its journal; a journal whose lock can be taken belongs to a
 * process that is gone. Format: a header line {@code smoldpo-reference-journal 1 <reference hash>},
 * then one {@code <example hash> TAB <chosen> TAB <rejected>} line per value (floats as Java prints
 * them, which reads back to the same bits). A crash can cut the last line short; such a line is the
 * only one skipped (and a file cut short inside its header holds nothing).
 */
final class ReferenceCacheJournal {
    static final String SUFFIX = ".journal";
    private static final String MAGIC = "smoldpo-reference-journal 1 ";
    /**
     * Journals this JVM writes. Closing any channel on a file drops every OS lock this process holds
     * on it, so the orphan scan must not even open them.
     */
    private static final Set<Path> OWNED = ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private ReferenceCacheJournal(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** A new journal in {@code dir}, locked by this process until {@link #close(boolean)}. */
    static ReferenceCacheJournal create(Path dir, String referenceHash) throws IOException {
        checkField("reference hash", referenceHash);
        Files.createDirectories(dir);
        Path file = dir.resolve(ProcessHandle.current().pid() + "-" + UUID.randomUUID() + SUFFIX).toAbsolutePath();
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        OWNED.add(file);
        try {
            FileLock lock = channel.lock();
            ReferenceCacheJournal journal = new ReferenceCacheJournal(file, channel, lock);
            journal.write(MAGIC + referenceHash + "\n");
            return journal;
        } catch (IOException | RuntimeException e) {
            OWNED.remove(file);
            channel.close();
            Files.deleteIfExists(file);
            throw e;
        }
    }

    Path file() {
        return file;
    }

    /** Appends {@code values}, in one write. */
    void append(Map<String, ReferenceCache.Logps> values) throws IOException {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, ReferenceCache.Logps> e : values.entrySet()) {
            checkField("example hash", e.getKey());
            b.append(e.getKey()).append('\t').append(e.getValue().chosen()).append('\t').append(e.getValue().rejected())
                    .append('\n');
        }
        write(b.toString());
    }

    private void write(String text) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }

    /** Unlocks the journal; deletes it when its values are safely merged, else leaves it for the next run. */
    void close(boolean delete) throws IOException {
        try {
            if (delete) {
                Files.deleteIfExists(file);
            }
        } finally {
            try {
                lock.release();
                channel.close();
            } finally {
                OWNED.remove(file);
            }
        }
    }

    /** A dead run's journal, locked by this process while its values are merged. */
    record Orphan(Path file, String referenceHash, Map<String, ReferenceCache.Logps> values, FileChannel channel)
            implements AutoCloseable {
        /** Deletes the journal (its values are merged) and lets go of it. */
        void delete() throws IOException {
            try {
                Files.deleteIfExists(file);
            } finally {
                channel.close();
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /** Whether {@code dir} holds journals other than this JVM's own (cheap: no file is opened). */
    static boolean mayHoldOrphans(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                if (!OWNED.contains(f.toAbsolutePath())) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The journals in {@code dir} whose runs are gone, each locked by this process: the caller merges
     * their values and then deletes or closes each one. Live runs' journals are left alone. The
     * caller holds the cache's exclusive lock, so no two scans overlap.
     */
    static List<Orphan> claimOrphans(Path dir) throws IOException {
        List<Orphan> orphans = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return orphans;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                Path file = f.toAbsolutePath();
                if (OWNED.contains(file)) {
                    continue;
                }
                Orphan orphan = claim(file);
                if (orphan != null) {
                    orphans.add(orphan);
                }
            }
        } catch (IOException | RuntimeException e) {
            for (Orphan o : orphans) {
                o.close();
            }
            throw e;
        }
        return orphans;
    }

    private static Orphan claim(Path file) throws IOException {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (java.nio.file.NoSuchFileException e) {
            return null; // merged and deleted by another run meanwhile
        }
        try {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // another instance in this JVM is merging it right now
            }
            if (lock == null || Files.notExists(file)) {
                channel.close(); // its run is alive, or another run merged it between our open and lock
                return null;
            }
            ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(channel.size()));
            while (bytes.hasRemaining() && channel.read(bytes, bytes.position()) >= 0) {
                // reads the whole file
            }
            String text = new String(bytes.array(), 0, bytes.position(), StandardCharsets.UTF_8);
            Map<String, ReferenceCache.Logps> values = new HashMap<>();
            String reference = parse(file, text, values);
            return new Orphan(file, reference, values, channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** Reads a journal's values into {@code values}; returns its reference hash. */
    static String parse(Path file, String text, Map<String, ReferenceCache.Logps> values) throws IOException {
        int end = text.lastIndexOf('\n');
        if (end < 0 && (MAGIC.startsWith(text) || text.startsWith(MAGIC))) {
            return ""; // its run died while writing the header: it holds no values
        }
        if (end < 0) {
            throw new IOException(file + " is not a reference-cache journal (no header line); delete it to go on");
        }
        String[] lines = text.substring(0, end).split("\n", -1);
        if (!lines[0].startsWith(MAGIC)) {
            throw new IOException(file + " is not a reference-cache journal (header '" + lines[0] + "'); delete it to go on");
        }
        String reference = lines[0].substring(MAGIC.length());
        for (int i = 1; i < lines.length; i++) {
            String[] fields = lines[i].split("\t", -1);
            try {
                if (fields.length != 3) {
                    throw new NumberFormatException("expected 3 tab-separated fields, got " + fields.length);
                }
                values.put(fields[0], new ReferenceCache.Logps(Float.parseFloat(fields[1]), Float.parseFloat(fields[2])));
            } catch (NumberFormatException e) {
                throw new IOException(file + " line " + (i + 1) + " is not 'example TAB chosen TAB rejected' ("
                        + e.getMessage() + "): '" + lines[i] + "'; delete the file to go on", e);
            }
        }
        return reference;
    }

    private static void checkField(String what, String value) {
        if (value.isEmpty() || value.indexOf('\t') >= 0 || value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("a reference-cache " + what + " must be non-empty, without tabs or line breaks: '"
                    + value + "'");
        }
    }
}
