package dev.smoldpo.launcher;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.lang.management.ManagementFactory;

/**
 * Entry point of trainer.jar, compiled for Java 17 so that it starts on an old default {@code java}.
 *
 * <p>The application itself needs a JDK >= 22 (Foreign Function & Memory API). When the running JVM
 * is older, this class looks for one (SMOLDPO_JAVA_HOME, JAVA_HOME, then the JDKs under
 * /usr/lib/jvm and /opt) and re-executes the jar there with the flags the application needs.
 *
 * <p>The two JVMs live and die together: the launcher forwards the child's exit code, stops the child
 * when it is itself stopped (SIGTERM, Ctrl-C), and the child stops on its own when the launcher is
 * killed outright ({@link ParentWatchdog}), so killing the PID the user started always ends training.
 */
public final class Launcher {
    static final int REQUIRED_FEATURE = 22;
    static final String APP_MAIN = "dev.smoldpo.cli.Main";
    /** Set on the relaunched JVM so a misconfigured JDK can never relaunch in a loop. */
    static final String RELAUNCHED_PROPERTY = "smoldpo.relaunched";
    /**
     * How long a stopped launcher lets its child run its own shutdown before killing it: a fit finishes
     * its current step and saves a checkpoint first (dev.smoldpo.train.GracefulStop, which has no time
     * limit of its own).
     */
    static final long CHILD_STOP_GRACE_SECONDS = 150;

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (Runtime.version().feature() >= REQUIRED_FEATURE) {
            ParentWatchdog.startIfRelaunched();
            runApplication(args);
            return;
        }
        if (System.getProperty(RELAUNCHED_PROPERTY) != null) {
            fail("relaunched JVM is still Java " + Runtime.version().feature());
        }
        Path javaBinary = findJava();
        if (javaBinary == null) {
            fail("this is Java " + Runtime.version().feature() + " at " + System.getProperty("java.home")
                    + ", and no JDK >= " + REQUIRED_FEATURE + " was found (looked at SMOLDPO_JAVA_HOME, JAVA_HOME,"
                    + " /usr/lib/jvm/*, /opt/*).\nInstall one, e.g. `apt-get install openjdk-25-jdk` or Temurin 25,"
                    + " or run it directly: /path/to/jdk-25/bin/java --enable-preview -jar trainer.jar ...");
        }
        List<String> command = new ArrayList<>();
        command.add(javaBinary.toString());
        command.add("--enable-preview");
        command.add("--enable-native-access=ALL-UNNAMED");
        if (featureOf(javaBinary.getParent().getParent()) >= 24) {
            // protobuf-java still uses sun.misc.Unsafe; JDK 24+ warns about it on every start
            command.add("--sun-misc-unsafe-memory-access=allow");
        }
        for (String jvmArg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            boolean ours = jvmArg.startsWith("-D" + RELAUNCHED_PROPERTY + "=")
                    || jvmArg.startsWith("-D" + ParentWatchdog.PARENT_PID_PROPERTY + "=");
            if (!ours && (jvmArg.startsWith("-D") || jvmArg.startsWith("-Xm") || jvmArg.startsWith("-Xss"))) {
                command.add(jvmArg);
            }
        }
        command.add("-D" + RELAUNCHED_PROPERTY + "=true");
        command.add("-D" + ParentWatchdog.PARENT_PID_PROPERTY + "=" + ProcessHandle.current().pid());
        // the class path this JVM was started with: trainer.jar under `java -jar`, the module's
        // classes and dependencies when started from a build or a test
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        // the child starts through this class too, so that it runs the parent watchdog
        command.add(Launcher.class.getName());
        for (String a : args) {
            command.add(a);
        }
        Process child = new ProcessBuilder(command).inheritIO().start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stopChild(child), "smoldpo-stop-child"));
        System.exit(child.waitFor());
    }

    /**
     * Shutdown hook of the launcher: on SIGTERM or SIGINT, asks the child to stop (SIGTERM) and waits
     * for its own shutdown to finish, then kills it if it will not. After a normal exit the child is
     * already gone and this does nothing.
     */
    private static void stopChild(Process child) {
        if (!child.isAlive()) {
            return;
        }
        child.destroy();
        try {
            if (!child.waitFor(CHILD_STOP_GRACE_SECONDS, TimeUnit.SECONDS)) {
                System.err.println("smoldpo: the training JVM (pid " + child.pid() + ") did not stop within "
                        + CHILD_STOP_GRACE_SECONDS + " s; killing it");
                child.destroyForcibly();
                child.waitFor(CHILD_STOP_GRACE_SECONDS, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            child.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static void runApplication(String[] args) throws Exception {
        Method main = Class.forName(APP_MAIN).getMethod("main", String[].class);
        try {
            main.invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            throw (Error) cause;
        }
    }

    /** The newest suitable java binary, or null. */
    static Path findJava() {
        for (String env : new String[] {"SMOLDPO_JAVA_HOME", "JAVA_HOME"}) {
            String home = System.getenv(env);
            if (home != null && !home.isEmpty() && featureOf(Paths.get(home)) >= REQUIRED_FEATURE) {
                return javaIn(Paths.get(home));
            }
        }
        List<Path> candidates = new ArrayList<>();
        for (String root : new String[] {"/usr/lib/jvm", "/opt", "/usr/local"}) {
            Path dir = Paths.get(root);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> list = Files.list(dir)) {
                list.filter(p -> featureOf(p) >= REQUIRED_FEATURE).forEach(candidates::add);
            } catch (IOException ignored) {
                // an unreadable folder is just not a candidate
            }
        }
        return candidates.stream().max(Comparator.comparingInt(Launcher::featureOf)).map(Launcher::javaIn).orElse(null);
    }

    private static Path javaIn(Path home) {
        return home.resolve("bin").resolve("java");
    }

    /** The feature version of the JDK at {@code home} (from its `release` file), or -1. */
    static int featureOf(Path home) {
        Path release = home.resolve("release");
        if (!Files.isExecutable(javaIn(home)) || !Files.isRegularFile(release)) {
            return -1;
        }
        try {
            for (String line : Files.readAllLines(release)) {
                if (line.startsWith("JAVA_VERSION=")) {
                    String v = line.substring("JAVA_VERSION=".length()).replace("\"", "");
                    String first = v.split("[.+-]")[0];
                    int feature = Integer.parseInt(first);
                    return feature == 1 ? Integer.parseInt(v.split("\\.")[1]) : feature;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not a JDK we can read
        }
        return -1;
    }

    private static void fail(String message) {
        System.err.println("smoldpo: " + message);
        System.exit(2);
    }

}
