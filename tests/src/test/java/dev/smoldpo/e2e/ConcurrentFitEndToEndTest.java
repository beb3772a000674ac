package dev.smoldpo.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two fits on the same artifacts at the same time, as two users (or a sweep) start them: separate
 * processes sharing the artifacts folder and its reference log-prob cache. Both must finish, and the
 * cache must end up holding every pair either of them scored.
 */
class ConcurrentFitEndToEndTest {
    private static final long TIMEOUT_SECONDS = 600;
    private static final Pattern REFERENCE_LINE =
            Pattern.compile("reference log-probs: (\\d+) pairs computed in \\d+ forward passes, (\\d+) already cached");

    @TempDir
    Path dir;

    private final List<Process> started = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        started.forEach(Process::destroyForcibly);
    }

    @Test
    void twoFitsOnTheSameArtifactsRunAtOnceAndShareTheCache() throws Exception {
        Path artifacts = dir.resolve("onnx-artifacts/demo");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));

        Process one = fit(artifacts, "one");
        Process two = fit(artifacts, "two");
        long usable = -1;
        for (Process p : List.of(one, two)) {
            assertTrue(p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS), "a fit did not finish");
        }
        for (String run : List.of("one", "two")) {
            Process p = run.equals("one") ? one : two;
            String out = Files.readString(dir.resolve(run + ".out"), StandardCharsets.UTF_8);
            String err = Files.readString(dir.resolve(run + ".err"), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), "fit " + run + ":\n" + out + err);
            assertTrue(out.contains("done (completed): 3 steps"), out);
            assertTrue(Files.isRegularFile(dir.resolve("runs").resolve(run).resolve("summary.json")));
            assertEquals(List.of(), err.lines().filter(l -> l.contains("SLF4J")).toList(), err);
            Matcher m = REFERENCE_LINE.matcher(out);
            assertTrue(m.find(), out);
            long pairs = Long.parseLong(m.group(1)) + Long.parseLong(m.group(2));
            assertTrue(usable == -1 || usable == pairs, "both runs score the same pairs: " + usable + " vs " + pairs);
            usable = pairs;
        }
        assertTrue(usable > 0);

        // the shared cache holds every pair once, for the one reference model, and no run left a journal
        Properties readOnly = new Properties();
        readOnly.setProperty("duckdb.read_only", "true");
        try (Connection db = DriverManager.getConnection("jdbc:duckdb:" + artifacts.resolve("reference_cache.duckdb"), readOnly);
             Statement s = db.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*), count(DISTINCT reference), count(DISTINCT example) FROM reference_logps")) {
            r.next();
            assertEquals(usable, r.getLong(1));
            assertEquals(1, r.getLong(2));
            assertEquals(usable, r.getLong(3));
        }
        Path journals = artifacts.resolve("reference_cache.duckdb.journals");
        if (Files.isDirectory(journals)) {
            try (Stream<Path> left = Files.list(journals)) {
                assertFalse(left.findAny().isPresent(), "journals left in " + journals);
            }
        }
    }

    /** {@code fit} of the demo in its own JVM, into runs/NAME, stdout and stderr into NAME.out and NAME.err. */
    private Process fit(Path artifacts, String name) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "--enable-preview", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "fit", "--artifacts", artifacts.toString(), "--output-dir", dir.resolve("runs").resolve(name).toString(),
                "--max-steps", "3", "--threads", "1")
                .redirectOutput(dir.resolve(name + ".out").toFile()).redirectError(dir.resolve(name + ".err").toFile())
                .start();
        started.add(p);
        return p;
    }
}
