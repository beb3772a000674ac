package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.model.demo.DemoModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The error line of a failed command: Jackson's raw text never shows, and nothing is longer than the cap. */
class ErrorMessageTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** Parse errors that reach the handler as they are, e.g. from a reader that called Jackson directly. */
    @Test
    void rawParseErrorOfAFileNamesFileLineAndColumn() throws IOException {
        Path file = dir.resolve("preprocessor_config.json");
        Files.writeString(file, "{\n  \"size\": {\"longest_edge\": 2048},\n  \"do_resize\": tru\n}");
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> JSON.readValue(file.toFile(), Map.class));
        assertTrue(e.getMessage().contains("[Source:"), "Jackson's own text has the source: " + e.getMessage());
        // Jackson no longer records the file in its locations (INCLUDE_SOURCE_IN_LOCATION is off by
        // default): the readers that know the file name it (JsonFiles); here only the position is left
        String message = ErrorMessage.of(e);
        assertTrue(message.startsWith("not valid JSON at line 3 column 20: Unrecognized token 'tru'"), message);
        assertTrue(message.contains("tru"), message);
        assertFalse(message.contains("Source") || message.contains("\n"), message);
    }

    /** Mapping errors lose their "(through reference chain: ...)" and the dump of a String source. */
    @Test
    void mappingErrorsInsideOtherMessagesAreCleaned() {
        record Settings(int steps) {}
        String source = "{\"steps\": \"many\", \"padding\": \"" + "x".repeat(400) + "\"}";
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> JSON.readValue(source, Settings.class));
        assertTrue(e.getMessage().contains("reference chain") || e.getMessage().contains("Source"), e.getMessage());
        RuntimeException wrapped = new UncheckedIOException(new IOException("cannot read settings: " + e.getMessage(), e));
        String message = ErrorMessage.of(new IllegalStateException(wrapped.getCause().getMessage(), wrapped));
        assertTrue(message.startsWith("cannot read settings: unexpected JSON content at line 1 column "), message);
        assertFalse(message.contains("reference chain") || message.contains("Source") || message.contains("xxxx"), message);
    }

    @Test
    void longMessagesAreCappedWithACount() {
        String message = ErrorMessage.of(new IllegalArgumentException("y".repeat(10_000)));
        assertEquals("y".repeat(ErrorMessage.MAX_CHARS) + "... (8000 more characters)", message);
        assertEquals("short", ErrorMessage.of(new IllegalArgumentException("short")));
    }

    /**
     * Through the command line: generate reads a deployment folder's preprocessor_config.json with
     * Jackson directly, and its exception reaches the handler as it is; the user still gets one clean line.
     */
    @Test
    void aJacksonExceptionEscapingACommandPrintsCleanly() throws IOException {
        Path deployment = DemoModel.write(dir.resolve("deployment"), 3);
        for (String onnx : dev.smoldpo.infer.Generator.ONNX_FILES) {
            Files.writeString(Files.createDirectories(deployment.resolve(onnx).getParent()).resolve(
                    deployment.resolve(onnx).getFileName()), "never opened: the processor file fails first");
        }
        Path processor = deployment.resolve("preprocessor_config.json");
        Files.writeString(processor, "{\n  \"max_image_size\": {\"longest_edge\": 32},\n  \"size\": {longest_edge: 64}\n}\n");
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("generate", "--model", deployment.toString(), "--prompt", "hi");
        } finally {
            System.setErr(old);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, code, text);
        assertTrue(text.contains("error: not valid JSON at line 3 column 12: Unexpected character ('l'"), text);
        assertFalse(text.contains("Source"), text);
    }
}
