package dev.smoldpo.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Test;

/**
 * The C-API route to ORT's CUDA provider, on a machine without CUDA: the call reaches the loaded
 * library through the options' native handle and comes back with ORT's own status message (the
 * provider library or CUDA cannot be loaded), not a crash and not the Java jar's "not compiled with
 * CUDA support". The success path needs a GPU: tools/gpu-check.sh.
 */
class CudaProviderCallTest {
    @Test
    void withoutCudaOrtsOwnStatusMessageComesBack() throws Exception {
        OrtRuntime.environment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> CudaProviderCall.append(options, 0));
            String message = e.getMessage();
            assertFalse(message == null || message.isBlank(), "ORT's status message is empty");
            assertFalse(message.contains("not compiled with CUDA support"), message);
            assertTrue(message.toLowerCase().contains("cuda"), "expected ORT's CUDA provider message, got: " + message);
            // the options stay usable after the failed call
            options.setIntraOpNumThreads(1);
        }
    }

    @Test
    void providerOptionsSetTheArenaAndTakeOverrides() {
        assertEquals(java.util.Map.of("device_id", "1", "arena_extend_strategy", "kSameAsRequested"),
                CudaProviderCall.providerOptions(1, null));
        assertEquals(java.util.Map.of("device_id", "0", "arena_extend_strategy", "kNextPowerOfTwo",
                "cudnn_conv_algo_search", "HEURISTIC"),
                CudaProviderCall.providerOptions(0, "arena_extend_strategy=kNextPowerOfTwo, cudnn_conv_algo_search=HEURISTIC"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaProviderCall.providerOptions(0, "gpu_mem_limit"));
        assertTrue(e.getMessage().contains(CudaProviderCall.OPTIONS_ENV), e.getMessage());
    }
}
