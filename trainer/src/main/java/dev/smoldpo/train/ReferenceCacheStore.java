package dev.smoldpo.train;

import java.io.IOException;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The shared reference cache file (DuckDB) of an artifacts folder, which several runs, in several
 * processes, read and add to at once.
 *
 * <p>DuckDB lets one process write a database file and locks every other process out meanwhile, so
 * nobody holds a connection open: reads open it read-only for one query under a shared
 * {@link CacheFileLock}, merges open it read-write for one transaction under the exclusive lock. Both
 * take milliseconds, so no run waits long on another. A crash mid-merge leaves DuckDB's write-ahead
 * log, which the next connection replays: the file stays readable.
 */
final class ReferenceCacheStore {
    /**
     * Identifies the file's content: it changes whenever a merge adds values. (On a file system whose
     * modification times are coarse, a merge may go unnoticed until the next one; a run then computes
     * values another run already has, which costs time and loses nothing.)
     */
    record Version(long modifiedNanos, long size) {}

    private final Path file;
    private final CacheFileLock lock;

    ReferenceCacheStore(Path file) {
        this.file = file.toAbsolutePath().normalize();
        this.lock = new CacheFileLock(this.file.resolveSibling(this.file.getFileName() + ".lock"));
    }

    Path file() {
        return file;
    }

    /** The file's current version, or null while it does not exist (nothing was ever merged). */
    Version version() throws SQLException {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return new Version(a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS), a.size());
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new SQLException("cannot read the attributes of " + file + ": " + e.getMessage(), e);
        }
    }

    /** Every value stored for {@code referenceHash}, and the version they were read at. */
    Snapshot read(String referenceHash) throws SQLException {
        return locked(true, () -> {
            Map<String, ReferenceCache.Logps> values = new HashMap<>();
            Version version = version();
            if (version == null) {
                return new Snapshot(values, null);
            }
            Properties readOnly = new Properties();
            readOnly.setProperty("duckdb.read_only", "true");
            try (Connection db = DriverManager.getConnection("jdbc:duckdb:" + file, readOnly)) {
                if (!hasTable(db)) {
                    return new Snapshot(values, version);
                }
                try (PreparedStatement q = db.prepareStatement(
                        "SELECT example, chosen, rejected FROM reference_logps WHERE reference = ?")) {
                    q.setString(1, referenceHash);
                    try (ResultSet r = q.executeQuery()) {
                        while (r.next()) {
                            values.put(r.getString(1), new ReferenceCache.Logps(r.getFloat(2), r.getFloat(3)));
                        }
                    }
                }
            }
            return new Snapshot(values, version);
        });
    }

    /** Values read at a version of the file. */
    record Snapshot(Map<String, ReferenceCache.Logps> values, Version version) {}

    /** Adds (or replaces) {@code values} for {@code referenceHash}, in one transaction. */
    void merge(String referenceHash, Map<String, ReferenceCache.Logps> values) throws SQLException {
        if (values.isEmpty()) {
            return;
        }
        locked(false, () -> {
            insert(referenceHash, values);
            return null;
        });
    }

    /**
     * Merges the journals that runs which are gone left in {@code journalDir} (killed before they could
     * merge), then deletes them; returns how many values they held. Live runs' journals stay.
     */
    long recoverOrphans(Path journalDir) throws SQLException {
        try {
            if (!ReferenceCacheJournal.mayHoldOrphans(journalDir)) {
                return 0;
            }
        } catch (IOException e) {
            throw new SQLException("cannot list " + journalDir + ": " + e.getMessage(), e);
        }
        return locked(false, () -> {
            long recovered = 0;
            List<ReferenceCacheJournal.Orphan> orphans = ReferenceCacheJournal.claimOrphans(journalDir);
            try {
                for (ReferenceCacheJournal.Orphan o : orphans) {
                    insert(o.referenceHash(), o.values());
                    recovered += o.values().size();
                    o.delete();
                }
            } finally {
                for (ReferenceCacheJournal.Orphan o : orphans) {
                    o.close();
                }
            }
            return recovered;
        });
    }

    /** The merge itself; the caller holds the exclusive lock. */
    private void insert(String referenceHash, Map<String, ReferenceCache.Logps> values) throws Exception {
        if (values.isEmpty()) {
            return;
        }
        Files.createDirectories(file.getParent());
        try (Connection db = DriverManager.getConnection("jdbc:duckdb:" + file)) {
            try (Statement s = db.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS reference_logps (reference VARCHAR, example VARCHAR, "
                        + "chosen FLOAT, rejected FLOAT, PRIMARY KEY (reference, example))");
            }
            // The appender is DuckDB's bulk path (a batch of prepared INSERTs manages some hundred rows
            // a second); the values reach the table in one upsert, so the merge is one transaction.
            try (Statement s = db.createStatement()) {
                s.execute("CREATE TEMP TABLE incoming (example VARCHAR, chosen FLOAT, rejected FLOAT)");
            }
            try (DuckDBAppender rows = db.unwrap(DuckDBConnection.class).createAppender("temp", "main", "incoming")) {
                for (Map.Entry<String, ReferenceCache.Logps> e : values.entrySet()) {
                    rows.beginRow().append(e.getKey()).append(e.getValue().chosen()).append(e.getValue().rejected()).endRow();
                }
            }
            try (PreparedStatement upsert = db.prepareStatement(
                    "INSERT OR REPLACE INTO reference_logps SELECT ?, example, chosen, rejected FROM incoming")) {
                upsert.setString(1, referenceHash);
                upsert.executeUpdate();
            }
            try (Statement s = db.createStatement()) {
                // into the database file now, so readers see the values without replaying a log
                s.execute("CHECKPOINT");
            }
        }
    }

    private static boolean hasTable(Connection db) throws SQLException {
        try (Statement s = db.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM information_schema.tables WHERE table_name = 'reference_logps'")) {
            r.next();
            return r.getLong(1) > 0;
        }
    }

    private <T> T locked(boolean shared, CacheFileLock.Work<T> work) throws SQLException {
        try {
            return lock.with(shared, work);
        } catch (SQLException e) {
            throw new SQLException("reference cache " + file + ": " + e.getMessage(), e.getSQLState(), e);
        } catch (Exception e) {
            throw new SQLException("reference cache " + file + ": " + e, e);
        }
    }
}
