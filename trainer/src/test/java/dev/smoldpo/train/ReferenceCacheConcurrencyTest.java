package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several runs on one artifacts folder share its reference cache at the same time. The other runs
 * are real processes ({@link ReferenceCacheClient}): within one process DuckDB hands every connection
 * to a file the same database, so two connections there never conflict; across processes the first
 * read-write connection locks every other process out of the file ("Could not set lock on file").
 */
class ReferenceCacheConcurrencyTest {
    private static final String REFERENCE = "weights-sha:config-sha";
    private static final long TIMEOUT_SECONDS = 180;

    @TempDir
    Path dir;

    /** Each process a test started, with its output file; killed after the test whatever happened. */
    private final Map<Process, Path> started = new HashMap<>();

    @AfterEach
    void killLeftovers() {
        started.keySet().forEach(Process::destroyForcibly);
    }

    private Path cacheFile() {
        return dir.resolve("artifacts").resolve("reference_cache.duckdb");
    }

    @Test
    void twoProcessesWriteAndReadOneCacheAtOnce() throws Exception {
        Map<String, ReferenceCache.Logps> expected = new HashMap<>();
        // this run merges after every put, as often as it can, to meet the other process's reads and merges
        try (ReferenceCache here = new ReferenceCache(cacheFile(), REFERENCE, Duration.ZERO)) {
            here.put(ReferenceCacheClient.values("a", 0, 50));
            expected.putAll(ReferenceCacheClient.values("a", 0, 50));
            // the other run writes 200 values in batches, merging each, and waits until it sees ours
            Process other = client("b", 200, 0, "a-0", "close");
            int next = 50;
            long deadline = deadline();
            // meanwhile this run keeps computing values, until it sees the other run's last one
            while (here.get(Set.of("b-199")).isEmpty() && other.isAlive() && System.nanoTime() < deadline) {
                here.put(ReferenceCacheClient.values("a", next, next + 10));
                expected.putAll(ReferenceCacheClient.values("a", next, next + 10));
                next += 10;
                Thread.sleep(100);
            }
            assertTrue(other.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the other run did not finish");
            assertEquals(0, other.exitValue(), output(other));
            assertEquals(ReferenceCacheClient.values("b", 199, 200), here.get(Set.of("b-199")),
                    "this run sees what the other merged while both are open");
        }
        expected.putAll(ReferenceCacheClient.values("b", 0, 200));
        try (ReferenceCache after = new ReferenceCache(cacheFile(), REFERENCE)) {
            assertEquals(expected.size(), after.size());
            assertEquals(expected, after.get(expected.keySet()));
        }
        assertEquals(List.of(), journals(), "merged journals are deleted");
    }

    @Test
    void aRunKilledBeforeItMergedLosesNothingAndALiveRunsJournalIsLeftAlone() throws Exception {
        // default merge interval: the run is killed long before it would merge
        Process killed = client("k", 95, ReferenceCache.MERGE_EVERY.toMillis(), "-", "hang");
        awaitLine(killed, "written");
        try (ReferenceCache whileAlive = new ReferenceCache(cacheFile(), REFERENCE)) {
            assertEquals(0, whileAlive.size(), "nothing merged yet");
        }
        assertEquals(1, journals().size(), "a live run's journal is not taken from it");

        killed.destroyForcibly(); // kill -9: no close, no merge
        assertTrue(killed.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        Map<String, ReferenceCache.Logps> all = ReferenceCacheClient.values("k", 0, 95);
        try (ReferenceCache next = new ReferenceCache(cacheFile(), REFERENCE)) {
            assertEquals(all, next.get(all.keySet()), "the next run merges what the killed run computed");
            assertEquals(95, next.size());
        }
        assertEquals(List.of(), journals());
    }

    @Test
    void aMergeKilledHalfwayLeavesTheCacheReadable() throws Exception {
        Files.createDirectories(cacheFile().getParent());
        Process killed = start("killed-mid-merge", ReferenceCacheClient.KilledMidMerge.class, cacheFile().toString(), REFERENCE);
        assertTrue(killed.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertEquals(0, killed.exitValue(), output(killed));
        assertTrue(Files.exists(cacheFile().resolveSibling("reference_cache.duckdb.wal")), "the merge was cut before its checkpoint");
        try (ReferenceCache next = new ReferenceCache(cacheFile(), REFERENCE)) {
            assertEquals(Map.of("committed", new ReferenceCache.Logps(-1.5f, -2.5f)),
                    next.get(Set.of("committed", "uncommitted")), "the committed merge counts, the cut one does not");
            next.put(Map.of("uncommitted", new ReferenceCache.Logps(-3.5f, -4.5f)));
        }
        try (ReferenceCache after = new ReferenceCache(cacheFile(), REFERENCE)) {
            assertEquals(2, after.size(), "later merges go on normally");
        }
    }

    @Test
    void anOpenCacheSeesWhatAnotherRunMergedAndKeepsItsOwnValues() throws Exception {
        try (ReferenceCache first = new ReferenceCache(cacheFile(), REFERENCE);
             ReferenceCache other = new ReferenceCache(cacheFile(), "another-reference")) {
            first.put(ReferenceCacheClient.values("mine", 0, 3));
            try (ReferenceCache second = new ReferenceCache(cacheFile(), REFERENCE)) {
                second.put(ReferenceCacheClient.values("theirs", 0, 4));
                assertEquals(Map.of(), first.get(Set.of("theirs-0")), "not merged before the other run closes");
            }
            other.put(ReferenceCacheClient.values("elsewhere", 0, 2));
            assertEquals(ReferenceCacheClient.values("theirs", 0, 4), first.get(ReferenceCacheClient.values("theirs", 0, 4).keySet()));
            assertEquals(ReferenceCacheClient.values("mine", 0, 3), first.get(ReferenceCacheClient.values("mine", 0, 3).keySet()),
                    "a reload keeps this run's unmerged values");
            assertEquals(7, first.size());
        }
        try (ReferenceCache reopened = new ReferenceCache(cacheFile(), "another-reference")) {
            assertEquals(2, reopened.size(), "values are kept apart by reference model");
        }
    }

    @Test
    void aJournalCutShortByACrashKeepsEveryCompleteLine() throws Exception {
        Path file = dir.resolve("x.journal");
        Map<String, ReferenceCache.Logps> values = new HashMap<>();
        String reference = ReferenceCacheJournal.parse(file,
                "smoldpo-reference-journal 1 ref:1\nh1\t-1.25\t-2.5\nh2\t-3.0\t-4", values);
        assertEquals("ref:1", reference);
        assertEquals(Map.of("h1", new ReferenceCache.Logps(-1.25f, -2.5f)), values);
        assertEquals("", ReferenceCacheJournal.parse(file, "smoldpo-refer", new HashMap<>()), "died inside the header");

        IOException corrupt = assertThrows(IOException.class, () -> ReferenceCacheJournal.parse(file,
                "smoldpo-reference-journal 1 ref:1\nh1\tnot-a-number\t-2.5\nh2\t-3.0\t-4.0\n", new HashMap<>()));
        assertTrue(corrupt.getMessage().contains(file + " line 2"), corrupt.getMessage());
        IOException foreign = assertThrows(IOException.class, () -> ReferenceCacheJournal.parse(file, "hello\n", new HashMap<>()));
        assertTrue(foreign.getMessage().contains("is not a reference-cache journal"), foreign.getMessage());
    }

    @Test
    void keysThatWouldBreakTheJournalAreRejected() throws Exception {
        try (ReferenceCache cache = new ReferenceCache(cacheFile(), REFERENCE)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cache.put(Map.of("bad\tkey", new ReferenceCache.Logps(0, 0))));
            assertTrue(e.getMessage().contains("example hash"), e.getMessage());
        }
        assertThrows(IllegalStateException.class, () -> {
            ReferenceCache closed = new ReferenceCache(cacheFile(), REFERENCE);
            closed.close();
            closed.get(Set.of("x"));
        });
    }

    private Process client(String prefix, int count, long mergeEveryMillis, String waitFor, String end) throws IOException {
        return start("client-" + prefix, ReferenceCacheClient.class, cacheFile().toString(), REFERENCE, prefix,
                String.valueOf(count), String.valueOf(mergeEveryMillis), waitFor, end);
    }

    /** {@code main} of {@code mainClass} in its own JVM, output into NAME.log. */
    private Process start(String name, Class<?> mainClass, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Path log = dir.resolve(name + ".log");
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), mainClass.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.put(p, log);
        return p;
    }

    private String output(Process p) throws IOException {
        Path log = started.get(p);
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }

    private void awaitLine(Process p, String line) throws Exception {
        long deadline = deadline();
        while (System.nanoTime() < deadline) {
            if (output(p).lines().anyMatch(line::equals)) {
                return;
            }
            if (!p.isAlive()) {
                throw new AssertionError("the other run exited with " + p.exitValue() + ":\n" + output(p));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the other run never printed '" + line + "':\n" + output(p));
    }

    private List<Path> journals() throws IOException {
        Path journals = ReferenceCache.journalDir(cacheFile());
        if (!Files.isDirectory(journals)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(journals)) {
            return s.toList();
        }
    }

    private static long deadline() {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
    }
}
