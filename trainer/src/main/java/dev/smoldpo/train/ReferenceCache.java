package dev.smoldpo.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reference log-probs on disk, in a DuckDB file: the reference model is frozen, so each pair's
 * values depend only on the base weights and the example and are computed once, then reused
 * across steps, epochs, runs and resumes. Keyed by (reference hash, example hash).
 */
public final class ReferenceCache implements AutoCloseable {
    /** A pair's reference log-probs. */
    public record Logps(float chosen, float rejected) {}

    private final Connection db;
    private final String referenceHash;

    /**
     * @param referenceHash identifies the reference model (hash of the base weights and config)
     */
    public ReferenceCache(Path file, String referenceHash) throws SQLException {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (java.io.IOException e) {
            throw new SQLException("cannot create " + file.getParent(), e);
        }
        this.db = DriverManager.getConnection("jdbc:duckdb:" + file.toAbsolutePath());
        this.referenceHash = referenceHash;
        try (Statement s = db.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS reference_logps (reference VARCHAR, example VARCHAR, "
                    + "chosen FLOAT, rejected FLOAT, PRIMARY KEY (reference, example))");
        }
    }

    /** The cached values among {@code exampleHashes}. */
    public synchronized Map<String, Logps> get(Set<String> exampleHashes) throws SQLException {
        Map<String, Logps> found = new HashMap<>();
        if (exampleHashes.isEmpty()) {
            return found;
        }
        String marks = String.join(",", java.util.Collections.nCopies(exampleHashes.size(), "?"));
        try (PreparedStatement q = db.prepareStatement("SELECT example, chosen, rejected FROM reference_logps "
                + "WHERE reference = ? AND example IN (" + marks + ")")) {
            q.setString(1, referenceHash);
            int i = 2;
            for (String h : exampleHashes) {
                q.setString(i++, h);
            }
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    found.put(r.getString(1), new Logps(r.getFloat(2), r.getFloat(3)));
                }
            }
        }
        return found;
    }

    public synchronized void put(Map<String, Logps> values) throws SQLException {
        if (values.isEmpty()) {
            return;
        }
        try (PreparedStatement ins = db.prepareStatement("INSERT OR REPLACE INTO reference_logps VALUES (?, ?, ?, ?)")) {
            for (Map.Entry<String, Logps> e : values.entrySet()) {
                ins.setString(1, referenceHash);
                ins.setString(2, e.getKey());
                ins.setFloat(3, e.getValue().chosen());
                ins.setFloat(4, e.getValue().rejected());
                ins.addBatch();
            }
            ins.executeBatch();
        }
    }

    public synchronized long size() throws SQLException {
        try (PreparedStatement q = db.prepareStatement("SELECT count(*) FROM reference_logps WHERE reference = ?")) {
            q.setString(1, referenceHash);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    /** Hashes present in the cache among {@code hashes} (for progress on precompute). */
    public List<String> missing(List<String> hashes) throws SQLException {
        Map<String, Logps> have = get(new java.util.HashSet<>(hashes));
        return hashes.stream().filter(h -> !have.containsKey(h)).toList();
    }

    @Override
    public synchronized void close() throws SQLException {
        db.close();
    }
}
