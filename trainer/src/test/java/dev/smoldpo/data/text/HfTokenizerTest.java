package dev.smoldpo.data.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real SmolVLM-256M tokenizer through DJL. */
class HfTokenizerTest {
    static HfTokenizer tok;

    /** Loaded once, by the first test; per test so that each one is reported as skipped without the files. */
    @BeforeEach
    void load() throws IOException {
        if (tok == null) {
            tok = HfTokenizer.load(SharedModels.smolVlmDir());
        }
    }

    @AfterAll
    static void close() {
        if (tok != null) { // null when the shared model folder is absent and the class was skipped
            tok.close();
        }
    }

    @Test
    void specialTokenIds() {
        assertEquals(49152, tok.tokenId("<global-img>"));
        assertEquals(49153, tok.tokenId("<row_1_col_1>"));
        assertEquals(49188, tok.tokenId("<row_6_col_6>"));
        assertEquals(49189, tok.tokenId("<fake_token_around_image>"));
        assertEquals(49190, tok.tokenId("<image>"));
        assertEquals(49279, tok.tokenId("<end_of_utterance>"));
        assertEquals(1, tok.tokenId("<|im_start|>"));
        assertEquals(49280, tok.vocabSize());
        assertTrue(tok.hasToken("<image>"));
        assertFalse(tok.hasToken("<row_7_col_1>"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.tokenId("<row_7_col_1>"));
        assertTrue(e.getMessage().contains("<row_7_col_1>"), e.getMessage());
    }

    @Test
    void specialTokensAreSingleIdsAndNothingIsAdded() {
        assertArrayEquals(new long[] {1}, tok.encode("<|im_start|>"));
        assertArrayEquals(new long[] {49190, 49190, 49279}, tok.encode("<image><image><end_of_utterance>"));
        assertEquals(0, tok.encode("").length);
    }

    @Test
    void noTruncationPast512() {
        String text = "<image>".repeat(3000) + " hello".repeat(1000);
        long[] ids = tok.encode(text);
        assertEquals(4000, ids.length);
        assertEquals(text, tok.decode(ids, false));
    }

    @Test
    void roundTrip() {
        for (String s : new String[] {
                "What is this?", " leading space", "two  spaces\tand\ttabs\r\nCRLF\n\n", "digits 1234567890",
                "unicode: caf\u00e9 na\u00efve \u00fcber \u4e2d\u6587 \u65e5\u672c\u8a9e \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
                "emoji: \uD83D\uDE00\uD83D\uDC4D\uD83C\uDFFD \uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67",
                "combining e\u0301 and zero\u200Bwidth", "<image>What is this?<end_of_utterance>\nAssistant:"}) {
            assertEquals(s, tok.decode(tok.encode(s), false), s);
        }
        assertEquals("What is this?\nAssistant:", tok.decode(tok.encode("<image>What is this?<end_of_utterance>\nAssistant:"), true));
    }

    @Test
    void knownIds() {
        // SmolLM2: " red" is one token, digits split individually
        assertEquals(1, tok.encode(" red").length);
        assertEquals(3, tok.encode("123").length);
        assertArrayEquals(tok.encode("Assistant:"), tok.encode("Assistant:"));
    }

    @Test
    void missingFileIsAClearError(@TempDir Path dir) throws IOException {
        IOException e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{not json");
        e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer.json") + ": not valid JSON at line 1 column 2: "),
                e.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
        e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json: field 'model.vocab' is missing"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": \"1\"}]}");
        e = assertThrows(IOException.class, () -> HfTokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json: an entry of 'added_tokens' is {\"id\":\"1\"}"), e.getMessage());
    }

    @Test
    void outOfRangeIdIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new long[] {49280}, false));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new long[] {-1}, false));
    }

    @Test
    void nativeLibraryIsLocal() {
        // DJL extracted its bundled native library under the DJL cache, no download (offline flags set)
        assertEquals("cpu", System.getProperty("RUST_FLAVOR", System.getenv("RUST_FLAVOR")));
    }
}
