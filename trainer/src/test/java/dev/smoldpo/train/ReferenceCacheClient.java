package dev.smoldpo.train;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Another run using a reference cache, in its own process (for {@link ReferenceCacheConcurrencyTest}):
 * DuckDB shares one database between connections of the same process, so only a second process
 * meets the file lock a real second run meets.
 *
 * <p>Arguments: cache file, reference hash, key prefix, how many values, merge interval in ms, a key
 * to wait for after writing (or -), and then {@code close} (merge and exit 0) or {@code hang} (print
 * "written" and wait to be killed, as a run killed before it merged).
 */
final class ReferenceCacheClient {
    static final int BATCH = 20;

    private ReferenceCacheClient() {}

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        String reference = args[1];
        String prefix = args[2];
        int count = Integer.parseInt(args[3]);
        Duration mergeEvery = Duration.ofMillis(Long.parseLong(args[4]));
        String waitFor = args[5];
        String end = args[6];
        ReferenceCache cache = new ReferenceCache(file, reference, mergeEvery);
        for (int from = 0; from < count; from += BATCH) {
            Map<String, ReferenceCache.Logps> batch = values(prefix, from, Math.min(count, from + BATCH));
            cache.put(batch);
            if (!cache.get(batch.keySet()).equals(batch)) {
                throw new AssertionError("values just put do not read back: " + batch);
            }
        }
        if (!waitFor.equals("-")) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (cache.get(java.util.Set.of(waitFor)).isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("never saw the other run's value " + waitFor);
                }
                Thread.sleep(20);
            }
        }
        if (end.equals("hang")) {
            System.out.println("written");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
        cache.close();
        System.out.println("closed");
    }

    /** Values {@code prefix-from} .. {@code prefix-(to-1)}, the same in every process. */
    static Map<String, ReferenceCache.Logps> values(String prefix, int from, int to) {
        Map<String, ReferenceCache.Logps> m = new LinkedHashMap<>();
        for (int i = from; i < to; i++) {
            // fractions that no short decimal writes exactly: the journal must keep every bit
            m.put(prefix + "-" + i, new ReferenceCache.Logps(-i / 7f - 1e-7f, -(i + 0.5f) / 3f));
        }
        return m;
    }

    /**
     * A run killed in the middle of merging into the shared file: one merge committed but not yet
     * checkpointed (still in DuckDB's write-ahead log), the next one begun and never committed.
     * Arguments: cache file, reference hash.
     */
    static final class KilledMidMerge {
        private KilledMidMerge() {}

        public static void main(String[] args) throws Exception {
            java.sql.Connection db = java.sql.DriverManager.getConnection("jdbc:duckdb:" + args[0]);
            try (java.sql.Statement s = db.createStatement()) {
                s.execute("CREATE TABLE reference_logps (reference VARCHAR, example VARCHAR, chosen FLOAT, rejected FLOAT, "
                        + "PRIMARY KEY (reference, example))");
                s.execute("CHECKPOINT");
                s.execute("INSERT INTO reference_logps VALUES ('" + args[1] + "', 'committed', -1.5, -2.5)");
                db.setAutoCommit(false);
                s.execute("INSERT INTO reference_logps VALUES ('" + args[1] + "', 'uncommitted', -3.5, -4.5)");
            }
            Runtime.getRuntime().halt(0); // as kill -9: no rollback, no checkpoint, no close
        }
    }
}
