package dev.smoldpo.train;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Reference log-probs on disk, shared by every run on the same artifacts: the reference model is
 * frozen, so each pair's values depend only on the base weights and the example and are computed
 * once, then reused across steps, epochs, runs and resumes. Keyed by (reference hash, example hash).
 *
 * <p>Several runs may use one cache at the same time, in separate processes. The shared DuckDB file
 * ({@link ReferenceCacheStore}) is never held open: this instance reads it into memory when opened,
 * and again when a lookup misses after another run merged new values. Values computed here go to
 * memory and to this run's own journal ({@link ReferenceCacheJournal}) at once, and are merged into
 * the shared file every {@link #MERGE_EVERY} and on {@link #close()}. A run killed before it merged
 * leaves its journal, and the next run to open the cache merges it: nothing computed is lost.
 */
public final class ReferenceCache implements AutoCloseable {
    /** A pair's reference log-probs. */
    public record Logps(float chosen, float rejected) {}

    /** How often a run hands its new values to the other runs (besides at close). */
    static final Duration MERGE_EVERY = Duration.ofSeconds(30);

    private final ReferenceCacheStore store;
    private final Path journalDir;
    private final String referenceHash;
    private final long mergeEveryNanos;
    /** The shared file's values as last read, plus this run's own. */
    private Map<String, Logps> known;
    private ReferenceCacheStore.Version readAt;
    /** This run's values not yet in the shared file. */
    private final Map<String, Logps> unmerged = new HashMap<>();
    /** Created with the first value this run computes. */
    private ReferenceCacheJournal journal;
    private long lastMerge = System.nanoTime();
    private boolean closed;

    /**
     * @param file the shared cache file (reference_cache.duckdb in the artifacts folder)
     * @param referenceHash identifies the reference model (hash of the base weights and config)
     */
    public ReferenceCache(Path file, String referenceHash) throws SQLException {
        this(file, referenceHash, MERGE_EVERY);
    }

    ReferenceCache(Path file, String referenceHash, Duration mergeEvery) throws SQLException {
        this.store = new ReferenceCacheStore(file);
        this.journalDir = journalDir(store.file());
        this.referenceHash = Objects.requireNonNull(referenceHash, "referenceHash");
        this.mergeEveryNanos = mergeEvery.toNanos();
        store.recoverOrphans(journalDir);
        reload();
    }

    /** Where the runs using {@code cacheFile} keep their journals. */
    static Path journalDir(Path cacheFile) {
        Path f = cacheFile.toAbsolutePath().normalize();
        return f.resolveSibling(f.getFileName() + ".journals");
    }

    /** The cached values among {@code exampleHashes}. */
    public synchronized Map<String, Logps> get(Set<String> exampleHashes) throws SQLException {
        checkOpen();
        Map<String, Logps> found = lookUp(exampleHashes);
        if (found.size() < exampleHashes.size() && !Objects.equals(readAt, store.version())) {
            reload(); // another run merged values since we last read: some misses may be there now
            found = lookUp(exampleHashes);
        }
        return found;
    }

    private Map<String, Logps> lookUp(Set<String> exampleHashes) {
        Map<String, Logps> found = new HashMap<>();
        for (String h : exampleHashes) {
            Logps v = known.get(h);
            if (v != null) {
                found.put(h, v);
            }
        }
        return found;
    }

    public synchronized void put(Map<String, Logps> values) throws SQLException {
        checkOpen();
        if (values.isEmpty()) {
            return;
        }
        try {
            if (journal == null) {
                journal = ReferenceCacheJournal.create(journalDir, referenceHash);
            }
            journal.append(values);
        } catch (IOException e) {
            throw new SQLException("cannot write the reference-cache journal in " + journalDir + ": " + e.getMessage(), e);
        }
        known.putAll(values);
        unmerged.putAll(values);
        if (System.nanoTime() - lastMerge >= mergeEveryNanos) {
            merge();
        }
    }

    /** Values cached for this reference model: the shared file's (as of its latest version) and this run's. */
    public synchronized long size() throws SQLException {
        checkOpen();
        if (!Objects.equals(readAt, store.version())) {
            reload();
        }
        return known.size();
    }

    /** Hashes missing from the cache among {@code hashes} (for progress on precompute). */
    public List<String> missing(List<String> hashes) throws SQLException {
        Map<String, Logps> have = get(new HashSet<>(hashes));
        return hashes.stream().filter(h -> !have.containsKey(h)).toList();
    }

    /** Merges this run's values into the shared file and deletes its journal. */
    @Override
    public synchronized void close() throws SQLException {
        if (closed) {
            return;
        }
        closed = true;
        if (journal == null) {
            return;
        }
        boolean merged = false;
        try {
            merge();
            merged = true;
        } finally {
            try {
                // merged: the journal's values are in the shared file. Not merged: the journal stays,
                // and the next run to open the cache merges it.
                journal.close(merged);
            } catch (IOException e) {
                if (merged) {
                    throw new SQLException("cannot delete the merged reference-cache journal " + journal.file() + ": "
                            + e.getMessage(), e);
                }
            }
        }
    }

    private void merge() throws SQLException {
        store.merge(referenceHash, unmerged);
        unmerged.clear();
        lastMerge = System.nanoTime();
    }

    private void reload() throws SQLException {
        ReferenceCacheStore.Snapshot snapshot = store.read(referenceHash);
        Map<String, Logps> values = snapshot.values();
        values.putAll(unmerged);
        known = values;
        readAt = snapshot.version();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the reference cache " + store.file() + " is closed");
        }
    }
}
