package dev.smoldpo.nativelib;

import dev.smoldpo.nativelib.ffi.smoldpo_cuda_cache_stats;
import dev.smoldpo.nativelib.ffi.smoldpo_error;
import dev.smoldpo.nativelib.ffi.smoldpo_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Library-level facts and the error plumbing shared by the wrappers. */
public final class SmolDpoNative {
    private SmolDpoNative() {}

    /** {@code SMOLDPO_API_VERSION} of the loaded library. */
    public static int apiVersion() {
        NativeLibrary.load();
        return smoldpo_h.smoldpo_api_version();
    }

    /** Whether the loaded library contains the CUDA implementation. */
    public static boolean cudaCompiled() {
        NativeLibrary.load();
        return smoldpo_h.smoldpo_cuda_compiled() != 0;
    }

    /** Usable CUDA devices; 0 without CUDA support, driver or GPU. */
    public static int cudaDeviceCount() {
        NativeLibrary.load();
        return smoldpo_h.smoldpo_cuda_device_count();
    }

    /** The CUDA context pool now; all zeros without CUDA. */
    public static CudaCacheStats cudaCacheStats() {
        NativeLibrary.load();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = smoldpo_cuda_cache_stats.allocate(a);
            smoldpo_h.smoldpo_cuda_cache_stats_get(s);
            return new CudaCacheStats(smoldpo_cuda_cache_stats.contexts(s), smoldpo_cuda_cache_stats.idle_contexts(s),
                    smoldpo_cuda_cache_stats.device_bytes(s), smoldpo_cuda_cache_stats.pinned_host_bytes(s),
                    smoldpo_cuda_cache_stats.allocations(s));
        }
    }

    /**
     * Frees the device and pinned memory of the CUDA contexts no call is using (e.g. before ORT's CUDA
     * session needs the memory); later CUDA calls allocate again. A no-op without CUDA.
     */
    public static void releaseCudaCache() {
        NativeLibrary.load();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = newError(a);
            check(smoldpo_h.smoldpo_cuda_release_cache(err), err, "smoldpo_cuda_release_cache", Device.CUDA);
        }
    }

    /** The library's explanation of a status code. */
    public static String statusDescription(int status) {
        NativeLibrary.load();
        return smoldpo_h.smoldpo_status_name(status).reinterpret(1024).getString(0);
    }

    /** {@code SMOLDPO_ERR_BUFFER_TOO_SMALL} and so on. */
    public static String statusSymbol(int status) {
        String d = statusDescription(status);
        int colon = d.indexOf(':');
        return colon > 0 ? d.substring(0, colon) : d;
    }

    /** Throws {@link DeviceUnavailableException} when {@code device} cannot run here. */
    public static void requireAvailable(Device device) {
        if (device == Device.CPU) return;
        if (!cudaCompiled())
            throw new DeviceUnavailableException(device, smoldpo_h.SMOLDPO_ERR_CUDA_UNAVAILABLE(),
                    "CUDA device requested, but this libsmoldpo (" + NativeLibrary.loadedPath()
                            + ") was built without CUDA (no nvcc at build time or -Dsmoldpo.cuda=OFF); use Device.CPU");
        if (cudaDeviceCount() == 0)
            throw new DeviceUnavailableException(device, smoldpo_h.SMOLDPO_ERR_CUDA_UNAVAILABLE(),
                    "CUDA device requested, but no CUDA GPU is available on this machine (no driver or no device); use Device.CPU");
    }

    static MemorySegment newError(Arena arena) {
        return smoldpo_error.allocate(arena); // zeroed
    }

    /** Turns a status into an exception naming the operation and the library's message. */
    static void check(int status, MemorySegment err, String operation, Device device) {
        if (status == smoldpo_h.SMOLDPO_OK()) return;
        String detail = smoldpo_error.message(err).getString(0);
        String msg = operation + " failed: " + (detail.isEmpty() ? statusDescription(status) : detail)
                + " [" + statusSymbol(status) + "]";
        if (status == smoldpo_h.SMOLDPO_ERR_CUDA_UNAVAILABLE())
            throw new DeviceUnavailableException(device, status, msg);
        throw new NativeException(status, msg);
    }
}
