package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.ffi.smoldpo_batch_plan;
import dev.smoldpo.nativelib.ffi.smoldpo_cuda_cache_stats;
import dev.smoldpo.nativelib.ffi.smoldpo_dpo_outputs;
import dev.smoldpo.nativelib.ffi.smoldpo_dpo_params;
import dev.smoldpo.nativelib.ffi.smoldpo_dpo_summary;
import dev.smoldpo.nativelib.ffi.smoldpo_error;
import dev.smoldpo.nativelib.ffi.smoldpo_h;
import dev.smoldpo.nativelib.ffi.smoldpo_image;
import dev.smoldpo.nativelib.ffi.smoldpo_image_plan;
import dev.smoldpo.nativelib.ffi.smoldpo_preprocess_config;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NativeLibraryTest {

    @Test
    void loadsTheLibraryFromTheJarResourceIntoAHashedCache() {
        Path p = NativeLibrary.load();
        assertTrue(Files.isRegularFile(p), p.toString());
        String configured = System.getProperty(NativeLibrary.PATH_PROPERTY);
        if (configured == null && System.getenv(NativeLibrary.PATH_ENV) == null) {
            assertEquals("linux-x86_64", NativeLibrary.platform());
            assertEquals("native/linux-x86_64/libsmoldpo.so", NativeLibrary.resourcePath());
            assertTrue(p.startsWith(NativeLibrary.cacheRoot()), p + " under " + NativeLibrary.cacheRoot());
            assertEquals(16, p.getParent().getFileName().toString().length(), "content-hash folder");
        }
        assertEquals(2, SmolDpoNative.apiVersion());
        assertEquals(smoldpo_h.SMOLDPO_API_VERSION(), SmolDpoNative.apiVersion());
        System.out.println("libsmoldpo " + p + " cuda compiled " + SmolDpoNative.cudaCompiled() + ", devices "
                + SmolDpoNative.cudaDeviceCount());
    }

    @Test
    void structLayoutsMatchTheCAbi() {
        // sizes printed by a C program against native/include/smoldpo.h (x86-64 / aarch64 LP64)
        assertEquals(260, smoldpo_error.sizeof());
        assertEquals(40, smoldpo_image.sizeof());
        assertEquals(56, smoldpo_preprocess_config.sizeof());
        assertEquals(24, smoldpo_preprocess_config.rescale_factor$offset());
        assertEquals(44, smoldpo_preprocess_config.image_std$offset());
        assertEquals(40, smoldpo_image_plan.sizeof());
        assertEquals(32, smoldpo_batch_plan.sizeof());
        assertEquals(24, smoldpo_dpo_params.sizeof());
        assertEquals(48, smoldpo_dpo_outputs.sizeof());
        assertEquals(56, smoldpo_dpo_summary.sizeof());
        assertEquals(32, smoldpo_cuda_cache_stats.sizeof());
        assertEquals(8, smoldpo_cuda_cache_stats.device_bytes$offset());
        assertEquals(24, smoldpo_cuda_cache_stats.allocations$offset());
    }

    @Test
    void cudaCacheIsEmptyWithoutAGpuAndReleasingIsHarmless() {
        CudaCacheStats before = SmolDpoNative.cudaCacheStats();
        SmolDpoNative.releaseCudaCache();
        CudaCacheStats after = SmolDpoNative.cudaCacheStats();
        assertEquals(0, after.idleContexts(), "release frees every idle context");
        assertEquals(0, after.contexts(), "no call runs now, so no context is left");
        assertEquals(0, after.deviceBytes());
        assertEquals(0, after.pinnedHostBytes());
        assertTrue(after.allocations() >= before.allocations(), "the allocation count never goes back");
        if (SmolDpoNative.cudaDeviceCount() == 0) {
            // a refused CUDA call must not leave anything behind
            org.junit.jupiter.api.Assertions.assertThrows(DeviceUnavailableException.class,
                    () -> ImagePreprocessor.resize(DecodedImage.rgb(new byte[12], 2, 2), 1, 1, Device.CUDA));
            assertEquals(new CudaCacheStats(0, 0, 0, 0, 0), SmolDpoNative.cudaCacheStats());
        }
    }

    @Test
    void configInitMatchesTheJavaDefaults() {
        NativeLibrary.load();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = smoldpo_preprocess_config.allocate(a);
            smoldpo_h.smoldpo_preprocess_config_init(c);
            PreprocessorConfig j = PreprocessorConfig.smolvlm();
            assertEquals(j.longestEdge(), smoldpo_preprocess_config.longest_edge(c));
            assertEquals(j.tileSize(), smoldpo_preprocess_config.tile_size(c));
            assertEquals(j.rescaleFactor(), smoldpo_preprocess_config.rescale_factor(c));
            assertEquals(0.5f, smoldpo_preprocess_config.image_std(c, 2));
            assertTrue(j.toNative(a).mismatch(c) < 0, "same bytes");
        }
    }

    @Test
    void statusNamesAndLastError() {
        assertEquals("SMOLDPO_ERR_BUFFER_TOO_SMALL", SmolDpoNative.statusSymbol(smoldpo_h.SMOLDPO_ERR_BUFFER_TOO_SMALL()));
        assertTrue(SmolDpoNative.statusDescription(smoldpo_h.SMOLDPO_ERR_CUDA_UNAVAILABLE()).contains("CUDA"));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = smoldpo_error.allocate(a);
            int rc = smoldpo_h.smoldpo_preprocess_plan(MemorySegment.NULL, 1, MemorySegment.NULL, MemorySegment.NULL,
                    MemorySegment.NULL, err);
            assertEquals(smoldpo_h.SMOLDPO_ERR_NULL_ARGUMENT(), rc);
            assertEquals(rc, smoldpo_error.code(err));
            assertEquals("images is NULL", smoldpo_error.message(err).getString(0));
            assertEquals("images is NULL", smoldpo_h.smoldpo_last_error_message().reinterpret(256).getString(0));
        }
    }

    @Test
    void preprocessorConfigFromJsonMap() {
        var m = java.util.Map.of("size", java.util.Map.of("longest_edge", 1536), "max_image_size",
                java.util.Map.of("longest_edge", 384), "image_mean", java.util.List.of(0.1, 0.2, 0.3), "do_image_splitting", false);
        PreprocessorConfig c = PreprocessorConfig.fromMap(m);
        assertEquals(1536, c.longestEdge());
        assertEquals(384, c.tileSize());
        assertEquals(0.2f, c.imageMean()[1]);
        assertEquals(false, c.doImageSplitting());
        assertEquals(0.5f, c.imageStd()[0]);
    }
}
