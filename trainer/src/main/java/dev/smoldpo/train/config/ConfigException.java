package dev.smoldpo.train.config;

/**
 * A training configuration that cannot be used: an unknown key, a value of the wrong type, or a value
 * out of range. The message names the key (snake_case, as written in the file or flag) and what was
 * expected, so it can be shown to the user as is.
 */
public final class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
