package dev.smoldpo.runtime.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the CUDA runtime libraries that libonnxruntime_providers_cuda.so (ORT 1.28, CUDA 13 build)
 * needs, searching, library by library, the first place that has it:
 * <ol>
 *   <li>the system loader's path ({@link LoaderPath}: LD_LIBRARY_PATH, ld.so.conf, default folders),</li>
 *   <li>Python environments' NVIDIA wheels ({@link PythonEnvironments}),</li>
 *   <li>the libraries bundled by the {@code -Pcuda-redist} build ({@link BundledCudaRedist}).</li>
 * </ol>
 */
public final class CudaLibrarySearch {
    /** What the CUDA provider needs (its DT_NEEDED CUDA entries), in dependency order: cuBLAS needs cuBLASLt. */
    public static final List<String> REQUIRED =
            List.of("libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcudnn.so.9");

    private final List<SearchPlace> places;

    public CudaLibrarySearch(List<SearchPlace> places) {
        this.places = List.copyOf(places);
    }

    /** The places of {@code host}, in search order, ending with what this jar bundles (extracted under {@code cacheRoot}). */
    public static CudaLibrarySearch of(HostLayout host, Path cacheRoot) {
        List<SearchPlace> places = new ArrayList<>(LoaderPath.places(host));
        places.addAll(PythonEnvironments.places(host));
        places.add(BundledCudaRedist.place(cacheRoot, REQUIRED, CudaLibrarySearch.class.getClassLoader()));
        return new CudaLibrarySearch(places);
    }

    public List<SearchPlace> places() {
        return places;
    }

    /**
     * Each required library from the first place (and, in it, the first folder) that holds it.
     *
     * @throws CudaUnavailableException naming each missing library, what was found, and every place looked in
     */
    public CudaLibraries locate() {
        Map<String, CudaLibraries.Found> found = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        for (String name : REQUIRED) {
            CudaLibraries.Found hit = find(name);
            if (hit == null) {
                missing.add(name);
            } else {
                found.put(name, hit);
            }
        }
        if (!missing.isEmpty()) {
            throw new CudaUnavailableException(missingMessage(missing, found));
        }
        return new CudaLibraries(new ArrayList<>(found.values()));
    }

    private CudaLibraries.Found find(String name) {
        for (SearchPlace place : places) {
            for (Path folder : place.folders()) {
                Path file = folder.resolve(name);
                if (Files.isRegularFile(file)) { // follows links: wheels and packages ship soname links
                    return new CudaLibraries.Found(name, file, place.label());
                }
            }
        }
        return null;
    }

    private String missingMessage(List<String> missing, Map<String, CudaLibraries.Found> found) {
        String nl = System.lineSeparator();
        StringBuilder m = new StringBuilder(CudaUnavailableException.PREFIX).append("it needs ")
                .append(String.join(", ", REQUIRED)).append(" (CUDA 13, cuDNN 9); missing: ")
                .append(String.join(", ", missing)).append('.');
        for (CudaLibraries.Found f : found.values()) {
            m.append(nl).append("Found ").append(f.name()).append(" at ").append(f.file()).append(" (").append(f.place()).append(')');
        }
        m.append(nl).append("Looked in, in this order:");
        for (int i = 0; i < places.size(); i++) {
            m.append(nl).append("  ").append(i + 1).append(". ").append(places.get(i).describe());
        }
        m.append(nl).append("Install CUDA 13 and cuDNN 9 system-wide, or the wheels nvidia-cuda-runtime, nvidia-cublas and "
                + "nvidia-cudnn-cu13 into a Python environment, or put their lib folders on LD_LIBRARY_PATH; "
                + "use --device cpu otherwise.");
        return m.toString();
    }
}
