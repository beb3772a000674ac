package dev.smoldpo.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaLibrarySearchTest {
    private static final String CUDART = "libcudart.so.13", LT = "libcublasLt.so.13", CUBLAS = "libcublas.so.13",
            CUDNN = "libcudnn.so.9";

    @TempDir
    Path tmp;

    /** Which folder each library came from. */
    private static Map<String, Path> sources(CudaLibraries libraries) {
        return libraries.found().stream().collect(Collectors.toMap(CudaLibraries.Found::name, f -> f.file().getParent()));
    }

    @Test
    void theLoaderPathComesBeforePythonEnvironments() throws Exception {
        FakeHost host = new FakeHost(tmp);
        Path ld = host.libs("ld", CUDART);
        Path sys = host.libs("sys", LT);
        host.writeConf("etc/ld.so.conf", "include ld.so.conf.d/*.conf\n");
        host.writeConf("etc/ld.so.conf.d/cuda.conf", sys + "\n");
        host.env.put("LD_LIBRARY_PATH", ld + "::" + host.path("nowhere"));
        Path cu13 = host.wheelLibs("venv", "cu13", CUDART, LT, CUBLAS);
        Path cudnn = host.wheelLibs("venv", "cudnn", CUDNN);
        host.env.put("VIRTUAL_ENV", host.path("venv"));
        host.wheelLibs("opt/torch/.venv", "cu13", CUDART, LT, CUBLAS);
        host.wheelLibs("opt/torch/.venv", "cudnn", CUDNN);

        CudaLibraries found = host.search().locate();

        assertEquals(Map.of(CUDART, ld, LT, sys, CUBLAS, cu13, CUDNN, cudnn), sources(found));
        // dependency order, whatever the places: cudart, cuBLASLt before cuBLAS, cuDNN
        assertEquals(CudaLibrarySearch.REQUIRED, found.found().stream().map(CudaLibraries.Found::name).toList());
        assertTrue(found.found().get(0).place().startsWith("LD_LIBRARY_PATH"), found.describe());
    }

    @Test
    void pythonEnvironmentsAreSearchedVirtualEnvCondaOptPathThenUserSite() throws Exception {
        FakeHost host = new FakeHost(tmp);
        host.env.put("VIRTUAL_ENV", host.path("empty-venv")); // set, but without NVIDIA wheels
        Path conda = host.wheelLibs("conda", "cuda_runtime", CUDART);
        host.env.put("CONDA_PREFIX", host.path("conda"));
        host.wheelLibs("opt/a/.venv", "cu13", CUDART);
        Path opt = host.wheelLibs("opt/b/.venv", "cu13", LT);
        // python3 on PATH: the first PATH folder holding an executable python3; its prefix is the folder above
        host.libs("nopython/bin");
        Path pythonBin = host.libs("py/bin", "python3");
        assertTrue(pythonBin.resolve("python3").toFile().setExecutable(true));
        host.env.put("PATH", host.path("nopython/bin") + ":" + pythonBin);
        host.wheelLibs("py", "cu13", LT);
        Path onPath = host.libs("py/lib/python3.12/dist-packages/nvidia/cublas/lib", CUBLAS);
        host.wheelLibs("home/.local", "cublas", CUBLAS);
        Path userSite = host.wheelLibs("home/.local", "cudnn", CUDNN);

        CudaLibraries found = host.search().locate();

        assertEquals(Map.of(CUDART, conda, LT, opt, CUBLAS, onPath, CUDNN, userSite), sources(found));
        assertTrue(found.found().get(2).place().contains("python3 on PATH (" + pythonBin.resolve("python3")), found.describe());
    }

    @Test
    void missingLibrariesAreNamedWithEveryPlaceLookedIn() throws Exception {
        FakeHost host = new FakeHost(tmp);
        Path ld = host.libs("ld", CUDART);
        host.env.put("LD_LIBRARY_PATH", ld.toString());
        Path sys = host.libs("sys");
        host.writeConf("etc/ld.so.conf", sys + "\n");
        Path defaults = host.libs("usr/lib");
        Path venvLib = host.wheelLibs("opt/torch/.venv", "cu13", "libnvblas.so.13");

        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> host.search().locate());
        String m = e.getMessage();

        assertTrue(m.startsWith(CudaUnavailableException.PREFIX), m);
        assertTrue(m.contains("missing: " + LT + ", " + CUBLAS + ", " + CUDNN + "."), m);
        assertTrue(m.contains("Found " + CUDART + " at " + ld.resolve(CUDART)), m);
        List<String> places = List.of(
                "1. LD_LIBRARY_PATH: " + ld,
                "2. " + host.path("etc/ld.so.conf") + " (the folders ldconfig caches): " + sys,
                "3. the loader's default folders: " + defaults,
                "4. VIRTUAL_ENV (unset): no folders",
                "5. CONDA_PREFIX (unset): no folders",
                "6. " + host.path("opt/*/.venv") + " (nvidia/*/lib in their site-packages): " + venvLib,
                "7. python3 on PATH (none found): no folders",
                "8. ~/.local (pip's user site, " + host.path("home/.local") + "): no folders",
                "9. bundled in trainer.jar (-Pcuda-redist): none in this build: no folders");
        int at = -1;
        for (String place : places) {
            int next = m.indexOf(place);
            assertTrue(next > at, "'" + place + "' missing or out of order in:\n" + m);
            at = next;
        }
        assertTrue(m.contains("nvidia-cudnn-cu13") && m.contains("--device cpu"), m);
    }

    @Test
    void aFolderWithoutTheFileDoesNotCountAndLinksDo() throws Exception {
        FakeHost host = new FakeHost(tmp);
        Path real = host.libs("real", "libcudnn.so.9.24.0");
        Path ld = host.libs("ld", CUDART, LT, CUBLAS);
        Files.createDirectories(ld.resolve(CUDNN + ".d")); // a folder is not a library
        Files.createSymbolicLink(host.libs("links").resolve(CUDNN), real.resolve("libcudnn.so.9.24.0"));
        host.env.put("LD_LIBRARY_PATH", ld + ":" + host.path("links"));

        assertEquals(host.path("links"), sources(host.search().locate()).get(CUDNN).toString());
    }
}
