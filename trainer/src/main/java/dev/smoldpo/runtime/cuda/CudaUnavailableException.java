package dev.smoldpo.runtime.cuda;

/** {@code --device cuda} cannot work on this machine or with this build; the message says why and what was looked at. */
public final class CudaUnavailableException extends IllegalStateException {
    /** How every such message starts, whatever the reason. */
    public static final String PREFIX = "--device cuda: ONNX Runtime's CUDA execution provider is not available: ";

    public CudaUnavailableException(String message) {
        super(message);
    }

    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
