package dev.smoldpo.runtime;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

/** ONNX Runtime session options shared by training, reference and inference sessions. */
public final class SessionSettings {
    private SessionSettings() {}

    /** Session options for {@code threads} (0 = ORT's default) and CPU or CUDA, failing clearly when CUDA is absent. */
    public static OrtSession.SessionOptions options(int threads, boolean cuda) throws OrtException {
        OrtRuntime.environment(); // the first ORT class to load decides the native library: wire ours first
        if (cuda) {
            OrtRuntime.enableCuda(); // finds and loads the CUDA libraries, or names what is missing
        }
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        if (threads > 0) {
            options.setIntraOpNumThreads(threads);
        }
        String profile = System.getenv("SMOLDPO_ORT_PROFILE");
        if (profile != null && !profile.isBlank()) {
            // ORT's own profiler (a Chrome-trace JSON per session, written when the session closes): each
            // node's kernel time, in execution order, for finding where a step's time goes
            options.enableProfiling(profile);
        }
        if (cuda) {
            try {
                OrtRuntime.addCudaProvider(options, 0);
            } catch (OrtException | RuntimeException e) {
                options.close();
                throw new IllegalStateException("--device cuda: ONNX Runtime's CUDA execution provider is not available ("
                        + e.getMessage() + "). It needs an NVIDIA GPU, the -Port-gpu build of trainer.jar, and CUDA 13 "
                        + "with cuDNN 9 on LD_LIBRARY_PATH; use --device cpu otherwise", e);
            }
        }
        return options;
    }

    /**
     * Training keeps the activations of a whole forward pass for the backward pass, and ORT's
     * defaults add to that peak: the memory-pattern planner pre-allocates a block shaped after the
     * first run next to what the arena already holds, and the CPU arena keeps freed chunks (grown
     * in powers of two) for reuse. Measured at SmolVLM-256M shapes (bench-export, one pair with a
     * 512 tile and 400 text tokens, 2 cores): defaults 6.9 GiB peak RSS and 5.1 s per step; both off
     * 4.6 GiB and 6.2 s. SMOLDPO_CPU_ARENA=1 / SMOLDPO_MEM_PATTERN=1 switch them back on.
     */
    public static void lowerPeakMemory(OrtSession.SessionOptions options) throws OrtException {
        if (!"1".equals(System.getenv("SMOLDPO_MEM_PATTERN"))) {
            options.setMemoryPatternOptimization(false);
        }
        if (!"1".equals(System.getenv("SMOLDPO_CPU_ARENA"))) {
            options.setCPUArenaAllocator(false);
        }
    }
}
