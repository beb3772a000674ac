package dev.smoldpo.infer;

/** A problem with the inputs of generation (model folder, images, prompt) that the user can fix. */
public final class InferenceException extends RuntimeException {
    public InferenceException(String message) {
        super(message);
    }

    public InferenceException(String message, Throwable cause) {
        super(message, cause);
    }
}
