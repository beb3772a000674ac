package dev.smoldpo.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Wires the training-enabled ONNX Runtime native library under the official ORT Java API.
 *
 * <p>The official {@code com.microsoft.onnxruntime} jar bundles a native library without the
 * training API. The same ORT version, built with training, ships in {@code org.bytedeco:onnxruntime};
 * we extract that library once to a per-user cache and point {@value #ORT_PATH_PROPERTY} at it. The
 * property is read when the first ORT class initialises, so {@link #environment()} must run before
 * any other use of {@code ai.onnxruntime}.
 */
public final class OrtRuntime {
    /** The ORT Java API version we are built against; the native library must match it exactly. */
    public static final String EXPECTED_VERSION = "1.28.0";
    static final String ORT_PATH_PROPERTY = "onnxruntime.native.onnxruntime.path";
    /** A user override: an already extracted training-enabled libonnxruntime.so. */
    static final String OVERRIDE_PROPERTY = "smoldpo.ort.library";
    static final String OVERRIDE_ENV = "SMOLDPO_ORT_LIBRARY";

    private static final List<String> PLATFORMS = List.of("linux-x86_64-gpu", "linux-x86_64");
    private static final String MAIN_LIBRARY = "libonnxruntime.so.1";
    /** Loaded by ORT from the main library's folder when an execution provider is requested. */
    private static final List<String> COMPANION_LIBRARIES =
            List.of("libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so");

    private static OrtEnvironment environment;

    private OrtRuntime() {}

    /**
     * The process-wide ORT environment, with training enabled. The first call locates and wires
     * the native library.
     *
     * @throws IllegalStateException when no training-enabled library of the right version can be loaded
     */
    public static synchronized OrtEnvironment environment() {
        if (environment != null) {
            return environment;
        }
        if (System.getProperty(ORT_PATH_PROPERTY) == null) {
            System.setProperty(ORT_PATH_PROPERTY, resolveNativeLibrary().toString());
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "smoldpo");
        String version = env.getVersion();
        if (!EXPECTED_VERSION.equals(version)) {
            throw new IllegalStateException("ONNX Runtime native library " + System.getProperty(ORT_PATH_PROPERTY)
                    + " is version " + version + ", but the Java API is " + EXPECTED_VERSION
                    + "; they must match exactly");
        }
        if (!env.isTrainingEnabled()) {
            throw new IllegalStateException("ONNX Runtime native library " + System.getProperty(ORT_PATH_PROPERTY)
                    + " was built without the training API. Use the one from org.bytedeco:onnxruntime:"
                    + EXPECTED_VERSION + "-1.5.14 (set -D" + OVERRIDE_PROPERTY + "=PATH or leave it unset)");
        }
        environment = env;
        return env;
    }

    /** The path of the training-enabled libonnxruntime this process uses (or will use). */
    static Path resolveNativeLibrary() {
        String override = System.getProperty(OVERRIDE_PROPERTY, System.getenv(OVERRIDE_ENV));
        if (override != null && !override.isBlank()) {
            Path path = Path.of(override);
            if (!Files.isRegularFile(path)) {
                throw new IllegalStateException(OVERRIDE_PROPERTY + "/" + OVERRIDE_ENV + " points to " + path
                        + ", which is not a file");
            }
            return path;
        }
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")
                || !List.of("amd64", "x86_64").contains(System.getProperty("os.arch"))) {
            throw new IllegalStateException("the bundled training-enabled ONNX Runtime is for linux-x86_64 only; this is "
                    + System.getProperty("os.name") + "/" + System.getProperty("os.arch")
                    + ". Point -D" + OVERRIDE_PROPERTY + " at a training-enabled libonnxruntime " + EXPECTED_VERSION);
        }
        for (String platform : PLATFORMS) {
            String resource = "org/bytedeco/onnxruntime/" + platform + "/" + MAIN_LIBRARY;
            if (OrtRuntime.class.getClassLoader().getResource(resource) != null) {
                return extract(platform);
            }
        }
        throw new IllegalStateException("no training-enabled ONNX Runtime on the class path: add "
                + "org.bytedeco:onnxruntime:" + EXPECTED_VERSION + "-1.5.14 (classifier linux-x86_64 or linux-x86_64-gpu)");
    }

    /** Extracts the platform's libraries into the cache once; later runs reuse them. */
    private static Path extract(String platform) {
        Path dir = cacheRoot().resolve("onnxruntime-" + EXPECTED_VERSION + "-" + platform);
        try {
            Files.createDirectories(dir);
            for (String name : concat(MAIN_LIBRARY, COMPANION_LIBRARIES)) {
                String resource = "org/bytedeco/onnxruntime/" + platform + "/" + name;
                var url = OrtRuntime.class.getClassLoader().getResource(resource);
                if (url == null) {
                    continue;
                }
                Path target = dir.resolve(name);
                long size = url.openConnection().getContentLengthLong();
                if (Files.isRegularFile(target) && Files.size(target) == size) {
                    continue;
                }
                // Write beside the target and rename, so a crash or a concurrent run never leaves a torn library.
                Path partial = Files.createTempFile(dir, name, ".part");
                try (InputStream in = url.openStream()) {
                    Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
                }
                Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract ONNX Runtime into " + dir, e);
        }
        return dir.resolve(MAIN_LIBRARY);
    }

    private static List<String> concat(String first, List<String> rest) {
        var all = new java.util.ArrayList<String>();
        all.add(first);
        all.addAll(rest);
        return all;
    }

    /** $SMOLDPO_CACHE, else $XDG_CACHE_HOME/smoldpo, else ~/.cache/smoldpo. */
    public static Path cacheRoot() {
        String explicit = System.getenv("SMOLDPO_CACHE");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("smoldpo");
    }
}
