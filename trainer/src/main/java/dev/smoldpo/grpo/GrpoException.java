package dev.smoldpo.grpo;

/** A GRPO run that stopped on an error, naming what failed and where its last checkpoint is. */
public final class GrpoException extends RuntimeException {
    public GrpoException(String message, Throwable cause) {
        super(message, cause);
    }
}
