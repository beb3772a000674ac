package dev.smoldpo.nativelib;

/** Where a native call runs. Both implementations sit in the same library; the choice is per call. */
public enum Device {
    /** The C11 implementation; always available. */
    CPU(0),
    /** The CUDA implementation; needs a library built with nvcc, a driver and a GPU. */
    CUDA(1);

    private final int code;

    Device(int code) {
        this.code = code;
    }

    /** The value of {@code enum smoldpo_device}. */
    public int code() {
        return code;
    }

    /** Whether calls on this device can run here (CPU: always; CUDA: at least one device). */
    public boolean isAvailable() {
        return this == CPU || SmolDpoNative.cudaDeviceCount() > 0;
    }

    /** CUDA when a GPU is usable, else CPU. */
    public static Device best() {
        return CUDA.isAvailable() ? CUDA : CPU;
    }
}
