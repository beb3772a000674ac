package dev.smoldpo.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher as a user meets it: started on an old java (17), it relaunches the application on this
 * JDK and the two JVMs must live and die together. Each test runs a real, endless toy fit through a
 * real Java 17 launcher, stops the launcher the way a user or a job runner would, and checks that
 * the training JVM is gone.
 */
class LauncherLifecycleTest {
    /** Generous: the machines that run the tests are shared and loaded. */
    private static final long STARTUP_SECONDS = 120;
    private static final long STOP_SECONDS = 10;

    @TempDir
    Path dir;

    /** Every process a test started or found, killed after it whatever happened. */
    private final List<ProcessHandle> started = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        for (ProcessHandle p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    @Test
    void killMinusNineOfTheLauncherStopsTheTrainingJvm() throws Exception {
        Relaunched run = startEndlessFit();
        run.launcher().destroyForcibly(); // SIGKILL: the launcher runs no code at all
        assertTrue(run.launcher().waitFor(STOP_SECONDS, TimeUnit.SECONDS));
        assertStops(run.child(), run.log(), "after kill -9 of the launcher");
        // the child stopped itself because its parent went away, and said why
        assertTrue(read(run.log()).contains("smoldpo: the launcher process " + run.launcher().pid() + " is gone; stopping"),
                read(run.log()));
    }

    @Test
    void sigtermOfTheLauncherStopsTheTrainingJvmBeforeTheLauncherExits() throws Exception {
        Relaunched run = startEndlessFit();
        run.launcher().destroy(); // SIGTERM, as `kill PID` sends
        assertTrue(run.launcher().waitFor(2 * STOP_SECONDS, TimeUnit.SECONDS), "the launcher did not exit on SIGTERM");
        // the launcher's shutdown hook waited for the child: it is gone the moment the launcher is
        assertFalse(run.child().isAlive(), "the training JVM outlived the launcher it was started by\n" + read(run.log()));
        assertEquals(128 + 15, run.launcher().exitValue());
    }

    @Test
    void theChildsExitCodeAndMessagesComeThroughTheLauncher() throws Exception {
        Path log = dir.resolve("launcher.log");
        Process launcher = launcher(log, "fit", "--toy", "--artifacts", dir.resolve("missing").toString());
        assertTrue(launcher.waitFor(STARTUP_SECONDS, TimeUnit.SECONDS), read(log));
        assertEquals(1, launcher.exitValue(), read(log));
        assertTrue(read(log).contains("manifest.json missing"), read(log));
    }

    private record Relaunched(Process launcher, ProcessHandle child, Path log) {}

    /** A launcher on the old java running a toy fit that would take days, once the fit has started. */
    private Relaunched startEndlessFit() throws Exception {
        Path log = dir.resolve("launcher.log");
        // in the temporary folder, `fit --toy` exports the toy model into onnx-artifacts/toy first
        Process launcher = launcher(log, "fit", "--toy", "--max-steps", "1000000000", "--logging-steps", "1000000000",
                "--threads", "1");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STARTUP_SECONDS);
        ProcessHandle child = null;
        while (System.nanoTime() < deadline) {
            if (child == null) {
                Optional<ProcessHandle> found = launcher.children().findFirst();
                if (found.isPresent()) {
                    child = found.get();
                    started.add(child);
                }
            }
            if (child != null && read(log).contains("eval_loss")) {
                return new Relaunched(launcher, child, log);
            }
            if (!launcher.isAlive()) {
                throw new AssertionError("the launcher exited with " + launcher.exitValue() + " before training started:\n"
                        + read(log));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("training did not start within " + STARTUP_SECONDS + " s:\n" + read(log));
    }

    private Process launcher(Path log, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(oldJava().toString(), "-cp", System.getProperty("java.class.path"),
                Launcher.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        // the JDK the launcher must relaunch on: the one running these tests
        pb.environment().put("SMOLDPO_JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        started.add(p.toHandle());
        return p;
    }

    private static void assertStops(ProcessHandle child, Path log, String when) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STOP_SECONDS);
        while (child.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertFalse(child.isAlive(), "the training JVM (pid " + child.pid() + ") still runs " + STOP_SECONDS + " s " + when
                + "\n" + read(log));
    }

    /** A JDK older than the application needs (the launcher's own target), which makes the launcher relaunch. */
    private static Path oldJava() throws IOException {
        List<Path> homes = new ArrayList<>();
        Path usrBinJava = Path.of("/usr/bin/java");
        if (Files.isExecutable(usrBinJava)) {
            homes.add(usrBinJava.toRealPath().getParent().getParent());
        }
        Path jvms = Path.of("/usr/lib/jvm");
        if (Files.isDirectory(jvms)) {
            try (Stream<Path> list = Files.list(jvms)) {
                list.sorted().forEach(homes::add);
            }
        }
        for (Path home : homes) {
            int feature = Launcher.featureOf(home);
            if (feature >= 17 && feature < Launcher.REQUIRED_FEATURE) {
                return home.resolve("bin").resolve("java");
            }
        }
        throw new AssertionError("these tests need a JDK 17 to " + (Launcher.REQUIRED_FEATURE - 1)
                + " (what the launcher is compiled for) at /usr/bin/java or under /usr/lib/jvm, e.g. apt-get install"
                + " openjdk-17-jdk-headless; looked at " + homes);
    }

    private static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }
}
