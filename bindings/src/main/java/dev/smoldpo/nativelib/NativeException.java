package dev.smoldpo.nativelib;

/**
 * A native call returned an error code. The message names the operation, the library's own
 * explanation (which image, which argument, which limit) and the status name.
 */
public class NativeException extends RuntimeException {
    private final int status;

    public NativeException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** The {@code SMOLDPO_ERR_*} code. */
    public int status() {
        return status;
    }

    /** The symbolic name of {@link #status()}, e.g. {@code SMOLDPO_ERR_BUFFER_TOO_SMALL}. */
    public String statusName() {
        return SmolDpoNative.statusSymbol(status);
    }
}
