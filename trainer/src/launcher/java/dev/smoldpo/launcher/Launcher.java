package dev.smoldpo.launcher;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.lang.management.ManagementFactory;

/**
 * Entry point of trainer.jar, compiled for Java 17 so that it starts on an old default {@code java}.
 *
 * <p>The application itself needs a JDK >= 22 (Foreign Function & Memory API). When the running JVM
 * is older, this class looks for one (SMOLDPO_JAVA_HOME, JAVA_HOME, then the JDKs under
 * /usr/lib/jvm and /opt) and re-executes the jar there with the flags the application needs.
 */
public final class Launcher {
    static final int REQUIRED_FEATURE = 22;
    static final String APP_MAIN = "dev.smoldpo.cli.Main";
    /** Set on the relaunched JVM so a misconfigured JDK can never relaunch in a loop. */
    static final String RELAUNCHED_PROPERTY = "smoldpo.relaunched";

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (Runtime.version().feature() >= REQUIRED_FEATURE) {
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
        command.add("-D" + RELAUNCHED_PROPERTY + "=true");
        for (String jvmArg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (jvmArg.startsWith("-D") || jvmArg.startsWith("-Xm") || jvmArg.startsWith("-Xss")) {
                command.add(jvmArg);
            }
        }
        command.add("-cp");
        command.add(ownJar());
        command.add(APP_MAIN);
        for (String a : args) {
            command.add(a);
        }
        Process process = new ProcessBuilder(command).inheritIO().start();
        System.exit(process.waitFor());
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

    private static String ownJar() throws URISyntaxException {
        return Paths.get(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
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
