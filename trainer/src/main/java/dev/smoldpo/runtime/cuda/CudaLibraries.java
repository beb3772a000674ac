package dev.smoldpo.runtime.cuda;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The CUDA runtime libraries ONNX Runtime's CUDA provider links against, as found, in the order
 * they depend on each other (cudart, cuBLASLt, cuBLAS, cuDNN).
 */
public record CudaLibraries(List<Found> found) {
    /** One library: its file and the place of the search it came from. */
    public record Found(String name, Path file, String place) {}

    public CudaLibraries {
        found = List.copyOf(found);
    }

    /**
     * Loads each library by its full path, dependencies first. ORT opens
     * libonnxruntime_providers_cuda.so itself later, with dlopen; the loader then matches that
     * library's needed sonames against the libraries already in the process, so they need not be on
     * any loader path. cuDNN opens its own sub-libraries (libcudnn_ops.so.9, ...) at run time from
     * its own folder ($ORIGIN in its RPATH, as the NVIDIA wheels and packages ship it).
     *
     * @param loader {@code System::load} in production
     * @throws CudaUnavailableException naming the file and the loader's message when one cannot be loaded
     */
    public void preload(Consumer<String> loader) {
        for (Found f : found) {
            try {
                loader.accept(f.file().toAbsolutePath().toString());
            } catch (UnsatisfiedLinkError e) {
                throw new CudaUnavailableException(CudaUnavailableException.PREFIX + f.name() + " was found at " + f.file() + " (" + f.place()
                        + ") but cannot be loaded: " + e.getMessage() + ". Is it the x86-64 build for CUDA 13 / cuDNN 9, "
                        + "with its own dependencies beside it?", e);
            }
        }
    }

    /** One line per library: name, file, place. */
    public String describe() {
        return found.stream().map(f -> f.name() + " <- " + f.file() + "  [" + f.place() + "]")
                .collect(Collectors.joining(System.lineSeparator()));
    }
}
