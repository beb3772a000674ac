package dev.smoldpo.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaSetupTest {
    private static final CudaSetup.DriverProbe DRIVER_PRESENT = Optional::empty;
    private static final CudaSetup.DriverProbe NO_DRIVER =
            () -> Optional.of(CudaSetup.DRIVER + " (the NVIDIA driver) cannot be loaded: not here");

    @TempDir
    Path tmp;

    private Path ortFolder(boolean withCudaProvider) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ort"));
        if (withCudaProvider) {
            Files.write(dir.resolve(CudaSetup.PROVIDER), new byte[0]);
        }
        return dir;
    }

    /** A host whose LD_LIBRARY_PATH folder holds {@code names}. */
    private FakeHost hostWith(String... names) throws Exception {
        FakeHost host = new FakeHost(tmp.resolve("host"));
        host.env.put("LD_LIBRARY_PATH", host.libs("cuda", names).toString());
        return host;
    }

    @Test
    void aCpuBuildIsNamedAndNothingIsSearched() throws Exception {
        AtomicBoolean searched = new AtomicBoolean();
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaSetup.prepare(ortFolder(false),
                () -> {
                    searched.set(true);
                    return new CudaLibrarySearch(List.of());
                }, DRIVER_PRESENT, path -> {}));
        assertTrue(e.getMessage().startsWith(CudaUnavailableException.PREFIX), e.getMessage());
        assertTrue(e.getMessage().contains("CPU build") && e.getMessage().contains("-Port-gpu")
                && e.getMessage().contains(tmp.resolve("ort").resolve(CudaSetup.PROVIDER).getFileName().toString()), e.getMessage());
        assertFalse(searched.get());
    }

    @Test
    void foundLibrariesAreLoadedByPathInDependencyOrder() throws Exception {
        FakeHost host = hostWith(CudaLibrarySearch.REQUIRED.reversed().toArray(String[]::new));
        List<String> loaded = new ArrayList<>();
        CudaLibraries libraries = CudaSetup.prepare(ortFolder(true), host::search, DRIVER_PRESENT, loaded::add);
        Path cuda = host.root.resolve("cuda");
        assertEquals(CudaLibrarySearch.REQUIRED.stream().map(n -> cuda.resolve(n).toString()).toList(), loaded);
        assertEquals(4, libraries.found().size());
    }

    @Test
    void missingLibrariesAndAMissingDriverAreNamedTogether() throws Exception {
        FakeHost host = hostWith("libcudart.so.13");
        List<String> loaded = new ArrayList<>();
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> CudaSetup.prepare(ortFolder(true), host::search, NO_DRIVER, loaded::add));
        assertTrue(e.getMessage().contains("missing: libcublasLt.so.13, libcublas.so.13, libcudnn.so.9"), e.getMessage());
        assertTrue(e.getMessage().contains("Also: libcuda.so.1 (the NVIDIA driver) cannot be loaded"), e.getMessage());
        assertEquals(List.of(), loaded); // nothing is loaded when anything is missing
    }

    @Test
    void allLibrariesWithoutADriverNameTheDriverAndWhatWasFound() throws Exception {
        FakeHost host = hostWith(CudaLibrarySearch.REQUIRED.toArray(String[]::new));
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> CudaSetup.prepare(ortFolder(true), host::search, NO_DRIVER, path -> {}));
        assertTrue(e.getMessage().contains("libcuda.so.1 (the NVIDIA driver)"), e.getMessage());
        assertTrue(e.getMessage().contains("libcudnn.so.9 <- " + host.root.resolve("cuda/libcudnn.so.9")), e.getMessage());
    }

    @Test
    void aFoundLibraryThatDoesNotLoadIsNamedWithTheLoadersReason() throws Exception {
        // empty files: the real loader (System.load) refuses them, as it would a truncated or foreign library
        FakeHost host = hostWith(CudaLibrarySearch.REQUIRED.toArray(String[]::new));
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> CudaSetup.prepare(ortFolder(true), host::search, DRIVER_PRESENT, System::load));
        String file = host.root.resolve("cuda/libcudart.so.13").toString();
        assertTrue(e.getMessage().contains("libcudart.so.13 was found at " + file) && e.getMessage().contains("cannot be loaded"),
                e.getMessage());
        assertTrue(e.getCause() instanceof UnsatisfiedLinkError && e.getMessage().contains(e.getCause().getMessage()),
                e.getMessage());
    }
}
