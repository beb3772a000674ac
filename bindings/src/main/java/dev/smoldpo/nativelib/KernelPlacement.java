package dev.smoldpo.nativelib;

import dev.smoldpo.nativelib.ffi.smoldpo_h;
import java.util.Locale;

/**
 * Which device {@code fit} runs each native kernel on. The rule (native/README.md, "Which device fit
 * uses"): a kernel runs on CUDA in a CUDA run only when {@code tools/bench-kernels.sh} on the training
 * GPU host shows CUDA at least 10% faster than the CPU on every fit-sized case, with the CPU's results.
 * Until such a measurement is recorded here, both kernels stay on the CPU: the DPO loss is a few
 * microseconds on the CPU for fit's batches, below one CUDA launch and copy; preprocessing has not been
 * measured on a GPU yet.
 *
 * <p>A system property overrides the choice for one kernel, to measure a whole run the other way:
 * {@value #PREPROCESS_PROPERTY} and {@value #DPO_LOSS_PROPERTY}, each {@code cpu} or {@code cuda}.
 */
public final class KernelPlacement {
    public static final String PREPROCESS_PROPERTY = "smoldpo.kernels.preprocess";
    public static final String DPO_LOSS_PROPERTY = "smoldpo.kernels.dpo_loss";

    /** The kernels fit calls. */
    public enum Kernel {
        PREPROCESS(PREPROCESS_PROPERTY, Device.CPU),
        DPO_LOSS(DPO_LOSS_PROPERTY, Device.CPU);

        private final String property;
        /** The measured choice for a CUDA run (see the class comment). */
        private final Device measuredForCudaRuns;

        Kernel(String property, Device measuredForCudaRuns) {
            this.property = property;
            this.measuredForCudaRuns = measuredForCudaRuns;
        }

        public String property() {
            return property;
        }
    }

    private KernelPlacement() {}

    /**
     * The device for {@code kernel} in a run on CUDA ({@code cudaRun}) or on the CPU. A CPU run always
     * uses the CPU unless overridden; an override to {@code cuda} without a usable GPU fails, naming the
     * property, rather than falling back.
     */
    public static Device forFit(Kernel kernel, boolean cudaRun) {
        String value = System.getProperty(kernel.property);
        if (value == null || value.isBlank()) {
            return cudaRun ? kernel.measuredForCudaRuns : Device.CPU;
        }
        Device d = switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "cpu" -> Device.CPU;
            case "cuda" -> Device.CUDA;
            default -> throw new IllegalArgumentException("system property " + kernel.property + " is '" + value
                    + "'; use cpu or cuda");
        };
        if (d == Device.CUDA && !Device.CUDA.isAvailable()) {
            throw new DeviceUnavailableException(d, smoldpo_h.SMOLDPO_ERR_CUDA_UNAVAILABLE(),
                    "system property " + kernel.property + "=cuda, but no CUDA device is usable by libsmoldpo (compiled "
                            + "with CUDA: " + SmolDpoNative.cudaCompiled() + ")");
        }
        return d;
    }
}
