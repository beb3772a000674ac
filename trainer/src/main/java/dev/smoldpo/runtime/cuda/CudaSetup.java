package dev.smoldpo.runtime.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Makes ONNX Runtime's CUDA execution provider loadable in this process, or says exactly why not:
 * the ORT build must carry the provider, the CUDA libraries must be found ({@link CudaLibrarySearch}),
 * the NVIDIA driver must be loadable; then the libraries are loaded by path ({@link CudaLibraries#preload}).
 *
 * <p>Why load them in this process rather than relaunch the JVM with LD_LIBRARY_PATH: glibc reads
 * LD_LIBRARY_PATH once, at process start, so only a relaunch could change it, and the JVM is
 * often started directly (a JDK >= 22, a jlink'ed runtime on a GPU host) where our launcher does
 * not relaunch. Loading the libraries by path before ORT opens its provider works however the JVM started.
 */
public final class CudaSetup {
    /** The provider library ORT opens from the folder of libonnxruntime when CUDA is requested. */
    public static final String PROVIDER = "libonnxruntime_providers_cuda.so";
    /** The NVIDIA driver's user-space library: only the driver installs it, always on the loader path. */
    public static final String DRIVER = "libcuda.so.1";

    private CudaSetup() {}

    /** Checks that the system loader can open {@code DRIVER}; empty when it can, else the problem. */
    @FunctionalInterface
    public interface DriverProbe {
        Optional<String> problem();

        /** Opens libcuda.so.1 by name, as cudart will: with the loader's own search (LD_LIBRARY_PATH, ld.so.cache). */
        static DriverProbe system() {
            return () -> {
                try {
                    SymbolLookup.libraryLookup(DRIVER, Arena.global());
                    return Optional.empty();
                } catch (IllegalArgumentException e) {
                    return Optional.of(DRIVER + " (the NVIDIA driver) cannot be loaded: " + e.getMessage()
                            + ". This machine has no NVIDIA driver, or it is not on the loader path");
                }
            };
        }
    }

    /**
     * Prepares CUDA for the ORT whose libraries are in {@code ortFolder}.
     *
     * @param search the library search, made only when the provider is present
     * @param loader loads a library by absolute path ({@code System::load})
     * @return the libraries loaded
     * @throws CudaUnavailableException when the build has no provider, a library is missing, the driver is absent,
     *                                  or a library does not load; the message names each
     */
    public static CudaLibraries prepare(Path ortFolder, Supplier<CudaLibrarySearch> search, DriverProbe driver,
                                        Consumer<String> loader) {
        if (!Files.isRegularFile(ortFolder.resolve(PROVIDER))) {
            throw new CudaUnavailableException(CudaUnavailableException.PREFIX + "this ONNX Runtime has no CUDA provider (no "
                    + PROVIDER + " in " + ortFolder + "): trainer.jar is the CPU build. Build the GPU one with "
                    + "`./mvnw -Port-gpu -DskipTests package`, or point SMOLDPO_ORT_LIBRARY at the libonnxruntime.so.1 of "
                    + "org.bytedeco:onnxruntime:1.28.0-1.5.14:linux-x86_64-gpu with its provider libraries beside it; "
                    + "use --device cpu otherwise.");
        }
        CudaLibraries libraries;
        try {
            libraries = search.get().locate();
        } catch (CudaUnavailableException missing) {
            Optional<String> noDriver = driver.problem();
            throw noDriver.isEmpty() ? missing
                    : new CudaUnavailableException(missing.getMessage() + System.lineSeparator() + "Also: " + noDriver.get() + ".");
        }
        Optional<String> noDriver = driver.problem();
        if (noDriver.isPresent()) {
            throw new CudaUnavailableException(CudaUnavailableException.PREFIX + noDriver.get() + " (the CUDA libraries were found:"
                    + System.lineSeparator() + libraries.describe() + ")");
        }
        libraries.preload(loader);
        return libraries;
    }
}
