package dev.smoldpo.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.runtime.cuda.CudaLibraries;
import dev.smoldpo.runtime.cuda.CudaLibrarySearch;
import dev.smoldpo.runtime.cuda.CudaSetup;
import dev.smoldpo.runtime.cuda.HostLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Wires the training-enabled ONNX Runtime native library under the official ORT Java API.
 *
 * <p>The official {@code com.microsoft.onnxruntime} jar bundles a native library without the
 * training API. The same ORT version, built with training, ships in {@code org.bytedeco:onnxruntime};
 * we extract that library once to a per-user cache ({@link OrtNativeFolder}) and point ORT's Java
 * API at that folder with {@value #ORT_FOLDER_PROPERTY}. The property is read when the first ORT
 * class initialises, so {@link #environment()} must run before any other use of {@code ai.onnxruntime}.
 * {@link #enableCuda()} then makes the CUDA provider of a {@code -Port-gpu} build loadable.
 */
public final class OrtRuntime {
    /** The ORT Java API version we are built against; the native library must match it exactly. */
    public static final String EXPECTED_VERSION = "1.28.0";
    /** ORT's Java API loads libonnxruntime.so, its JNI library and execution providers from this folder. */
    static final String ORT_FOLDER_PROPERTY = "onnxruntime.native.path";
    /** ORT's per-library path; honoured when set by the user (then the CUDA provider must sit beside it). */
    static final String ORT_PATH_PROPERTY = "onnxruntime.native.onnxruntime.path";
    /** A user override: an already extracted training-enabled libonnxruntime.so (its provider libraries beside it). */
    static final String OVERRIDE_PROPERTY = "smoldpo.ort.library";
    static final String OVERRIDE_ENV = "SMOLDPO_ORT_LIBRARY";

    /** bytedeco's platforms, the CUDA build first: a jar built with -Port-gpu carries only that one. */
    private static final List<String> PLATFORMS = List.of("linux-x86_64-gpu", "linux-x86_64");

    private static OrtEnvironment environment;
    private static Path nativeFolder;
    /** "warning" lowers ORT's log level from errors to warnings. */
    public static final String LOG_ENV = "SMOLDPO_ORT_LOG";
    private static CudaLibraries cudaLibraries;

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
        String userPath = System.getProperty(ORT_PATH_PROPERTY);
        String userFolder = System.getProperty(ORT_FOLDER_PROPERTY);
        if (userFolder != null) {
            nativeFolder = Path.of(userFolder);
        } else if (userPath != null) {
            nativeFolder = Path.of(userPath).toAbsolutePath().getParent();
        } else {
            nativeFolder = resolveNativeFolder();
            System.setProperty(ORT_FOLDER_PROPERTY, nativeFolder.toString());
        }
        // ORT's warnings (e.g. a shared initializer it had to copy after all) only when asked for: it also warns
        // about every CUDA session's shape nodes on the CPU, which the placement check reports better
        OrtLoggingLevel level = "warning".equalsIgnoreCase(System.getenv(LOG_ENV))
                ? OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING : OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
        OrtEnvironment env = OrtEnvironment.getEnvironment(level, "smoldpo");
        String version = env.getVersion();
        if (!EXPECTED_VERSION.equals(version)) {
            throw new IllegalStateException("ONNX Runtime native library in " + nativeFolder
                    + " is version " + version + ", but the Java API is " + EXPECTED_VERSION
                    + "; they must match exactly");
        }
        if (!env.isTrainingEnabled()) {
            throw new IllegalStateException("ONNX Runtime native library in " + nativeFolder
                    + " was built without the training API. Use the one from org.bytedeco:onnxruntime:"
                    + EXPECTED_VERSION + "-1.5.14 (set -D" + OVERRIDE_PROPERTY + "=PATH or leave it unset)");
        }
        environment = env;
        return env;
    }

    /**
     * Makes ORT's CUDA execution provider loadable: checks that this ORT carries it and finds and
     * loads the CUDA libraries it needs ({@link CudaSetup}), once per process. Call before
     * {@code SessionOptions.addCUDA}.
     *
     * @throws dev.smoldpo.runtime.cuda.CudaUnavailableException naming what is missing and where it looked
     */
    public static synchronized CudaLibraries enableCuda() {
        environment();
        if (cudaLibraries == null) {
            cudaLibraries = CudaSetup.prepare(nativeFolder, () -> CudaLibrarySearch.of(HostLayout.current(), cacheRoot()),
                    CudaSetup.DriverProbe.system(), System::load);
            System.err.println("smoldpo: CUDA libraries loaded:" + System.lineSeparator() + cudaLibraries.describe());
        }
        return cudaLibraries;
    }

    /**
     * Adds ORT's CUDA execution provider for {@code device} to {@code options} through ORT's C API
     * ({@link CudaProviderCall}: the Java jar's own {@code addCUDA} calls are compiled out of its
     * CPU JNI library). Enables CUDA first ({@link #enableCuda()}).
     */
    public static void addCudaProvider(OrtSession.SessionOptions options, int device) throws OrtException {
        enableCuda();
        CudaProviderCall.append(options, device);
    }

    /** The libonnxruntime.so.1 this process loads (after {@link #environment()}). */
    public static synchronized Path nativeLibrary() {
        environment();
        return nativeFolder.resolve(OrtNativeFolder.MAIN_LIBRARY);
    }

    /** The folder the ORT libraries of this process are (or will be) loaded from. */
    static Path resolveNativeFolder() {
        String override = System.getProperty(OVERRIDE_PROPERTY, System.getenv(OVERRIDE_ENV));
        if (override != null && !override.isBlank()) {
            Path path = Path.of(override);
            if (!Files.isRegularFile(path)) {
                throw new IllegalStateException(OVERRIDE_PROPERTY + "/" + OVERRIDE_ENV + " points to " + path
                        + ", which is not a file");
            }
            return OrtNativeFolder.forLibrary(path, cacheRoot());
        }
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")
                || !List.of("amd64", "x86_64").contains(System.getProperty("os.arch"))) {
            throw new IllegalStateException("the bundled training-enabled ONNX Runtime is for linux-x86_64 only; this is "
                    + System.getProperty("os.name") + "/" + System.getProperty("os.arch")
                    + ". Point -D" + OVERRIDE_PROPERTY + " at a training-enabled libonnxruntime " + EXPECTED_VERSION);
        }
        for (String platform : PLATFORMS) {
            String resource = "org/bytedeco/onnxruntime/" + platform + "/" + OrtNativeFolder.MAIN_LIBRARY;
            if (OrtRuntime.class.getClassLoader().getResource(resource) != null) {
                return OrtNativeFolder.fromJar(platform, cacheRoot());
            }
        }
        throw new IllegalStateException("no training-enabled ONNX Runtime on the class path: add "
                + "org.bytedeco:onnxruntime:" + EXPECTED_VERSION + "-1.5.14 (classifier linux-x86_64 or linux-x86_64-gpu)");
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
