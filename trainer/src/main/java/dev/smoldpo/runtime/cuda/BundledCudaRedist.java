package dev.smoldpo.runtime.cuda;

import dev.smoldpo.runtime.resources.NativeResources;
import java.net.URL;
import java.nio.file.Path;
import java.util.List;

/**
 * The last place searched: CUDA libraries packed into trainer.jar by the {@code -Pcuda-redist}
 * build, from bytedeco's redistributable jars (resources {@code org/bytedeco/cuda/linux-x86_64/}),
 * extracted once into the cache. On Maven Central, {@code org.bytedeco:cuda-redist:13.3-9.25-1.5.14}
 * carries libcudart.so.13; cuBLAS and cuDNN are not published there for CUDA 13, so those two still
 * have to come from the system or a Python environment.
 */
final class BundledCudaRedist {
    static final String RESOURCE_FOLDER = "org/bytedeco/cuda/linux-x86_64/";

    private BundledCudaRedist() {}

    /** The place, with the extraction folder when the jar holds any of {@code names}, else none. */
    static SearchPlace place(Path cacheRoot, List<String> names, ClassLoader loader) {
        Path folder = cacheRoot.resolve("cuda-redist-linux-x86_64");
        boolean any = false;
        for (String name : names) {
            URL url = loader.getResource(RESOURCE_FOLDER + name);
            if (url != null) {
                NativeResources.extract(url, folder.resolve(name));
                any = true;
            }
        }
        return any ? new SearchPlace("bundled in trainer.jar (-Pcuda-redist), extracted to", List.of(folder))
                : new SearchPlace("bundled in trainer.jar (-Pcuda-redist): none in this build", List.of());
    }

    /** Writes the resource beside the target and renames it, so a concurrent run never sees a torn file. */
}
