package dev.smoldpo.runtime;

import dev.smoldpo.runtime.resources.NativeResources;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The one folder ONNX Runtime is loaded from, which ORT's Java API is pointed at with
 * {@code onnxruntime.native.path}. ORT's Java API then loads {@code libonnxruntime.so} and its JNI
 * glue {@code libonnxruntime4j_jni.so} from it, and accepts an execution provider (CUDA) only when
 * the provider's library is in it; ORT itself opens the provider from the folder of the loaded
 * libonnxruntime. So the folder holds:
 * <ul>
 *   <li>{@code libonnxruntime.so.1}, the training-enabled build (and {@code libonnxruntime.so}, a link to it),</li>
 *   <li>{@code libonnxruntime4j_jni.so} from the ORT Java API jar (it needs {@code libonnxruntime.so.1} by soname),</li>
 *   <li>the provider libraries the build has ({@code libonnxruntime_providers_shared.so}, {@code _cuda.so}).</li>
 * </ul>
 */
final class OrtNativeFolder {
    static final String MAIN_LIBRARY = "libonnxruntime.so.1";
    /** The name ORT's Java API loads from {@code onnxruntime.native.path}. */
    static final String JAVA_API_NAME = "libonnxruntime.so";
    static final String JNI_LIBRARY = "libonnxruntime4j_jni.so";
    private static final String JNI_RESOURCE = "ai/onnxruntime/native/linux-x64/" + JNI_LIBRARY;
    static final List<String> PROVIDER_LIBRARIES =
            List.of("libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so");

    private OrtNativeFolder() {}

    /** Extracts the libraries of bytedeco's {@code platform} jar (linux-x86_64 or linux-x86_64-gpu) once into the cache. */
    static Path fromJar(String platform, Path cacheRoot) {
        Path dir = cacheRoot.resolve("onnxruntime-" + OrtRuntime.EXPECTED_VERSION + "-" + platform);
        for (String name : concat(MAIN_LIBRARY, PROVIDER_LIBRARIES)) {
            URL url = resource("org/bytedeco/onnxruntime/" + platform + "/" + name);
            if (url != null) {
                NativeResources.extract(url, dir.resolve(name));
            }
        }
        finish(dir, Path.of(MAIN_LIBRARY));
        return dir;
    }

    /**
     * A folder for a libonnxruntime the user named: links to it and to the provider libraries beside
     * it, so a CUDA build kept outside the jar (as on a GPU host) works like the bundled one.
     */
    static Path forLibrary(Path library, Path cacheRoot) {
        Path absolute = library.toAbsolutePath().normalize();
        String key = pathKey(absolute);
        Path dir = cacheRoot.resolve("onnxruntime-" + OrtRuntime.EXPECTED_VERSION + "-custom-" + key);
        for (String name : PROVIDER_LIBRARIES) {
            Path sibling = absolute.resolveSibling(name);
            link(dir.resolve(name), Files.isRegularFile(sibling) ? sibling : null);
        }
        link(dir.resolve(MAIN_LIBRARY), absolute);
        finish(dir, absolute);
        return dir;
    }

    /** Adds the name the Java API loads and the JNI glue. */
    private static void finish(Path dir, Path mainTarget) {
        link(dir.resolve(JAVA_API_NAME), mainTarget);
        URL jni = resource(JNI_RESOURCE);
        if (jni == null) {
            throw new IllegalStateException("the ONNX Runtime Java API jar (com.microsoft.onnxruntime:onnxruntime:"
                    + OrtRuntime.EXPECTED_VERSION + ") is not on the class path: " + JNI_RESOURCE + " is missing");
        }
        NativeResources.extract(jni, dir.resolve(JNI_LIBRARY));
    }

    /** 12 hex digits of the path's SHA-256: one folder per named library. */
    private static String pathKey(Path path) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(path.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static URL resource(String name) {
        return OrtNativeFolder.class.getClassLoader().getResource(name);
    }

    /**
     * Makes {@code link} a symbolic link to {@code target} (relative targets stay relative), or removes
     * it when {@code target} is null. Replaced atomically, since another run may be loading from it.
     */
    private static void link(Path link, Path target) {
        try {
            Files.createDirectories(link.getParent());
            if (target == null) {
                Files.deleteIfExists(link);
                return;
            }
            if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(target)) {
                return;
            }
            Path partial = link.resolveSibling(link.getFileName() + "." + ProcessHandle.current().pid() + ".link");
            Files.deleteIfExists(partial);
            Files.createSymbolicLink(partial, target);
            Files.move(partial, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot link " + link + " to " + target, e);
        }
    }

    private static List<String> concat(String first, List<String> rest) {
        var all = new java.util.ArrayList<String>();
        all.add(first);
        all.addAll(rest);
        return all;
    }
}
