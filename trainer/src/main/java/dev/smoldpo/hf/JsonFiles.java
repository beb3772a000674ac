package dev.smoldpo.hf;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Reads the JSON files of a checkpoint (config, tokenizer, processor, chat template) with messages
 * fit for a user: {@code <file>: not valid JSON at line L column C: <short reason>}. Jackson's own
 * exception text carries a dump of the source and, for mapping errors, a "(through reference chain:
 * ...)" trail; neither is ever shown.
 */
public final class JsonFiles {
    /** Longest reason kept from Jackson's message. */
    static final int MAX_REASON = 200;
    /** Longest rendering of a JSON value quoted in a message. */
    static final int MAX_VALUE = 120;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** Jackson's "[Source: ...; line: 1, column: 2]" (the source may be a dump of the input itself). */
    private static final Pattern SOURCE = Pattern.compile(
            "\\s*(\\(start marker at )?\\[Source: .*?; line: \\d+, column: \\d+\\](\\))?", Pattern.DOTALL);

    private JsonFiles() {}

    /**
     * Reads a file whose top level must be a JSON object.
     *
     * @throws HfFormatException naming the file when it is missing, is not valid JSON (with line and
     *     column) or is not an object
     */
    public static ObjectNode readObject(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new HfFormatException(file + ": file is missing");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new HfFormatException(file + ": " + describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new HfFormatException(file + ": expected a JSON object at the top level, found "
                    + (root == null || root.isMissingNode() ? "nothing (empty file)" : root.getNodeType().toString().toLowerCase()));
        }
        return (ObjectNode) root;
    }

    /**
     * {@code not valid JSON at line L column C: reason}: the position and the first line of Jackson's
     * own reason, without the source dump or the reference chain, at most {@value #MAX_REASON}
     * characters.
     */
    public static String describe(JsonProcessingException e) {
        String reason = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
        reason = SOURCE.matcher(reason).replaceAll("").strip();
        int newline = reason.indexOf('\n');
        if (newline >= 0) {
            reason = reason.substring(0, newline).strip();
        }
        if (reason.startsWith("Trailing token")) {
            reason = "more content after the end of the top-level value";
        }
        JsonLocation at = e.getLocation();
        String where = at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + " column " + at.getColumnNr();
        String what = e instanceof StreamReadException || reason.startsWith("more content") ? "not valid JSON" : "unexpected JSON content";
        return what + where + ": " + abbreviate(reason, MAX_REASON);
    }

    /** A JSON value for a message: its text, shortened to {@value #MAX_VALUE} characters. */
    public static String quote(JsonNode value) {
        return abbreviate(String.valueOf(value), MAX_VALUE);
    }

    /** {@code text}, or its first {@code max} characters and "... (N more characters)". */
    public static String abbreviate(String text, int max) {
        if (text.length() <= max) {
            return text;
        }
        return text.substring(0, max) + "... (" + (text.length() - max) + " more characters)";
    }
}
