package dev.smoldpo.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.smoldpo.hf.JsonFiles;
import java.util.regex.Pattern;

/**
 * The text of a failed command's {@code error:} line. Jackson's raw exception text never reaches the
 * user (it carries "(through reference chain: ...)" trails and dumps of the source): a JSON failure
 * becomes {@code <file>: not valid JSON at line L column C: <reason>}. And no message is longer than
 * {@value #MAX_CHARS} characters, whatever a message builder put into it.
 */
final class ErrorMessage {
    static final int MAX_CHARS = 2000;

    private static final Pattern REFERENCE_CHAIN = Pattern.compile("\\s*\\(through reference chain: .*?\\)(?=\\s|$)", Pattern.DOTALL);
    private static final Pattern SOURCE = Pattern.compile("\\s*at \\[Source: .*?; line: (\\d+), column: (\\d+)\\]", Pattern.DOTALL);

    private ErrorMessage() {}

    static String of(Throwable e) {
        return cap(clean(e));
    }

    private static String clean(Throwable e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        JsonProcessingException json = jsonCause(e);
        if (json != null) {
            // Jackson does not record the file in its locations any more (INCLUDE_SOURCE_IN_LOCATION
            // is off by default), so only the readers that know it name it (JsonFiles.readObject).
            if (e == json) {
                return JsonFiles.describe(json);
            }
            if (json.getMessage() != null && message.contains(json.getMessage())) {
                message = message.replace(json.getMessage(), JsonFiles.describe(json));
            }
        }
        // Whatever Jackson text a wrapper quoted in another form: drop the trail, keep only the position.
        message = REFERENCE_CHAIN.matcher(message).replaceAll("");
        return SOURCE.matcher(message).replaceAll(" at line $1 column $2");
    }

    private static JsonProcessingException jsonCause(Throwable e) {
        for (Throwable c = e; c != null && c.getCause() != c; c = c.getCause()) {
            if (c instanceof JsonProcessingException j) {
                return j;
            }
        }
        return null;
    }

    /** At most {@value #MAX_CHARS} characters, then how many were left out. */
    static String cap(String message) {
        return JsonFiles.abbreviate(message, MAX_CHARS);
    }
}
