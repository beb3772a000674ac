package dev.smoldpo.hf;

import java.io.IOException;

/**
 * A Hugging Face checkpoint file (safetensors, config.json) is malformed, unsupported or does not
 * match the expected model. The message always names the file and the offending item.
 */
public final class HfFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public HfFormatException(String message) {
        super(message);
    }

    public HfFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
