package dev.smoldpo.hf;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * Typed access to the fields of one JSON object of a config file, with messages naming the file and
 * the field ({@code prefix} + name, e.g. {@code text_config.hidden_size}). Values quoted in messages
 * are shortened, so a huge array in a field never makes a huge message.
 */
record ConfigFields(JsonNode node, Path source, String prefix) {
    JsonNode required(String name) throws HfFormatException {
        JsonNode v = node == null ? null : node.get(name);
        if (v == null || v.isNull()) {
            throw new HfFormatException(source + ": missing required field '" + prefix + name + "'");
        }
        return v;
    }

    HfFormatException bad(String name, JsonNode v, String want) {
        return new HfFormatException(source + ": field '" + prefix + name + "' is " + JsonFiles.quote(v)
                + ", expected " + want);
    }

    JsonNode object(String name) throws HfFormatException {
        JsonNode v = required(name);
        if (!v.isObject()) {
            throw bad(name, v, "an object");
        }
        return v;
    }

    String string(String name) throws HfFormatException {
        JsonNode v = required(name);
        if (!v.isTextual()) {
            throw bad(name, v, "a string");
        }
        return v.asText();
    }

    String optString(String name, String dflt) throws HfFormatException {
        return node.hasNonNull(name) ? string(name) : dflt;
    }

    int positiveInt(String name) throws HfFormatException {
        return boundedInt(name, Integer.MAX_VALUE);
    }

    /**
     * An integer in 1..{@code max}. The bound is checked here, before anything is sized from the
     * value: a typo such as a million layers must fail at once, not after allocating for them.
     */
    int boundedInt(String name, int max) throws HfFormatException {
        JsonNode v = required(name);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) {
            throw bad(name, v, "a positive integer");
        }
        if (v.asInt() > max) {
            throw bad(name, v, "an integer in 1.." + max + " (larger values are not a model this trainer can build)");
        }
        return v.asInt();
    }

    /** {@link #boundedInt}, or {@code dflt} when the field is absent. */
    int optBoundedInt(String name, int max, int dflt) throws HfFormatException {
        return node != null && node.hasNonNull(name) ? boundedInt(name, max) : dflt;
    }

    /** {@link #positiveDouble}, or {@code dflt} when the field is absent. */
    double optPositiveDouble(String name, double dflt) throws HfFormatException {
        return node != null && node.hasNonNull(name) ? positiveDouble(name) : dflt;
    }

    double positiveDouble(String name) throws HfFormatException {
        JsonNode v = required(name);
        if (!v.isNumber() || !(v.asDouble() > 0) || Double.isInfinite(v.asDouble())) {
            throw bad(name, v, "a positive number");
        }
        return v.asDouble();
    }

    boolean bool(String name) throws HfFormatException {
        JsonNode v = required(name);
        if (!v.isBoolean()) {
            throw bad(name, v, "true or false");
        }
        return v.asBoolean();
    }

    boolean optBool(String name, boolean dflt) throws HfFormatException {
        return node.hasNonNull(name) ? bool(name) : dflt;
    }
}
