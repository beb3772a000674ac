package dev.smoldpo.nativelib;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Finds and loads libsmoldpo once per class loader, before any {@code ffi.smoldpo_h} call (the
 * generated bindings look symbols up with {@link java.lang.foreign.SymbolLookup#loaderLookup()}).
 *
 * <p>Order: the system property {@value #PATH_PROPERTY}, then the environment variable
 * {@value #PATH_ENV} (each a file, or a folder holding the library), then the copy inside the jar
 * at {@code native/<platform>/libsmoldpo.so}, extracted to a per-user cache folder named by the
 * SHA-256 of its content ({@value #CACHE_PROPERTY}, else {@code $XDG_CACHE_HOME/smoldpo/native},
 * else {@code ~/.cache/smoldpo/native}).
 */
public final class NativeLibrary {
    public static final String PATH_PROPERTY = "smoldpo.native.path";
    public static final String PATH_ENV = "SMOLDPO_NATIVE_PATH";
    public static final String CACHE_PROPERTY = "smoldpo.native.cache";
    public static final String LIBRARY_NAME = "smoldpo";

    private static volatile Path loaded;

    private NativeLibrary() {}

    /** Loads the library if needed and returns the file that was loaded. */
    public static Path load() {
        Path p = loaded;
        if (p != null) return p;
        synchronized (NativeLibrary.class) {
            if (loaded == null) {
                Path file = locate();
                System.load(file.toAbsolutePath().toString());
                loaded = file;
            }
            return loaded;
        }
    }

    /** The file loaded so far, or null. */
    public static Path loadedPath() {
        return loaded;
    }

    /** Platform folder name inside the jar: {@code linux-x86_64}, {@code linux-aarch64}, {@code macos-aarch64}, ... */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.contains("win") ? "windows" : os.replace(' ', '_');
        String a = switch (arch) {
            case "amd64", "x86_64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return o + "-" + a;
    }

    /** Resource path of the library inside the jar for this platform. */
    public static String resourcePath() {
        return "native/" + platform() + "/" + System.mapLibraryName(LIBRARY_NAME);
    }

    static Path locate() {
        List<String> tried = new ArrayList<>();
        String prop = System.getProperty(PATH_PROPERTY);
        if (prop != null && !prop.isBlank()) return configured(prop, "system property " + PATH_PROPERTY);
        tried.add("system property " + PATH_PROPERTY + " (unset)");
        String env = System.getenv(PATH_ENV);
        if (env != null && !env.isBlank()) return configured(env, "environment variable " + PATH_ENV);
        tried.add("environment variable " + PATH_ENV + " (unset)");
        String resource = resourcePath();
        try (InputStream in = NativeLibrary.class.getClassLoader().getResourceAsStream(resource)) {
            if (in != null) return extract(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + resource + " from the class path", e);
        }
        tried.add("class path resource " + resource + " (absent: no build for platform " + platform() + ")");
        throw new UnsatisfiedLinkError("libsmoldpo not found; tried " + String.join(", ", tried)
                + ". Build it with `./mvnw -pl bindings install` or point " + PATH_PROPERTY + " / "
                + PATH_ENV + " at the library file.");
    }

    private static Path configured(String value, String source) {
        Path p = Path.of(value);
        if (Files.isDirectory(p)) p = p.resolve(System.mapLibraryName(LIBRARY_NAME));
        if (!Files.isRegularFile(p))
            throw new UnsatisfiedLinkError(source + " points at " + p + ", which is not a file");
        return p;
    }

    static Path cacheRoot() {
        String prop = System.getProperty(CACHE_PROPERTY);
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "smoldpo", "native");
        return Path.of(System.getProperty("user.home"), ".cache", "smoldpo", "native");
    }

    private static Path extract(byte[] bytes) throws IOException {
        String hash = sha256(bytes);
        Path dir = cacheRoot().resolve(hash.substring(0, 16));
        Path target = dir.resolve(System.mapLibraryName(LIBRARY_NAME));
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length
                && sha256(Files.readAllBytes(target)).equals(hash)) {
            return target;
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "libsmoldpo", ".tmp");
        try {
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
