package dev.smoldpo.artifacts.checkpoint;

/** A file (or buffer) that is not a valid ONNX Runtime training checkpoint this code can read. */
public final class CheckpointFormatException extends RuntimeException {
    public CheckpointFormatException(String message) {
        super(message);
    }

    public CheckpointFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
