package dev.smoldpo.hf.hub;

import java.io.IOException;

/**
 * A download from the Hugging Face hub failed. The message is meant for the user as is: it names the
 * repository or file and says what to do ({@code HF_TOKEN}, a local folder, a rerun to resume).
 */
public final class HubException extends IOException {
    /** What went wrong, for callers that react differently (the CLI maps these to exit codes). */
    public enum Kind {
        /** HTTP 401: no token or a bad one (the hub also answers 401 for repositories that don't exist). */
        UNAUTHORIZED,
        /** HTTP 403: the token lacks access (gated repository whose terms were not accepted). */
        FORBIDDEN,
        /** HTTP 404: repository, revision or file not found. */
        NOT_FOUND,
        /** The hub could not be reached, or the connection stalled (connect/read timeout). */
        OFFLINE,
        /** The downloaded bytes do not match the expected sha256 or size. */
        INTEGRITY,
        /** Any other HTTP status or malformed hub answer. */
        HTTP,
        /** A local file-system problem. */
        IO,
        /** Bad arguments (repository id, file name). */
        INVALID
    }

    private final Kind kind;

    public HubException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public HubException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
