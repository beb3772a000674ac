package dev.smoldpo.model.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.data.text.ChatTemplate;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.data.text.PromptExpander;
import dev.smoldpo.data.text.PromptExpander.TileGrid;
import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoTokenizerTest {
    @TempDir
    static Path dir;
    static HfTokenizer tok;

    @BeforeAll
    static void write() throws IOException {
        DemoTokenizer.writeTo(dir);
        tok = HfTokenizer.load(dir);
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    @Test
    void filesExist() {
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "added_tokens.json", "chat_template.json")) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
    }

    @Test
    void specialIdsAndVocabSize() {
        assertEquals(DemoSpec.VOCAB_SIZE, tok.vocabSize());
        assertEquals(DemoSpec.END_OF_TEXT_ID, tok.tokenId(DemoSpec.END_OF_TEXT));
        assertEquals(DemoSpec.IM_START_ID, tok.tokenId(DemoSpec.IM_START));
        assertEquals(DemoSpec.IM_END_ID, tok.tokenId(DemoSpec.IM_END));
        assertEquals(DemoSpec.END_OF_UTTERANCE_ID, tok.tokenId(DemoSpec.END_OF_UTTERANCE));
        assertEquals(DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID, tok.tokenId(DemoSpec.FAKE_TOKEN_AROUND_IMAGE));
        assertEquals(DemoSpec.IMAGE_TOKEN_ID, tok.tokenId(DemoSpec.IMAGE));
        assertEquals(DemoSpec.GLOBAL_IMAGE_ID, tok.tokenId(DemoSpec.GLOBAL_IMAGE));
        for (int r = 1; r <= 6; r++) {
            for (int c = 1; c <= 6; c++) {
                String t = PromptExpander.rowColToken(r, c);
                int id = DemoSpec.FIRST_ROW_COL_ID + (r - 1) * 6 + (c - 1);
                assertEquals(id, tok.tokenId(t), t);
                assertArrayEquals(new long[] {id}, tok.encode(t), t); // never split
            }
        }
        assertEquals(DemoSpec.FIRST_REGULAR_ID, tok.addedTokens().size());
        // every special token encodes to its own id, also inside text
        List<String> specials = DemoTokenizer.specialTokens();
        for (int id = 0; id < specials.size(); id++) {
            assertArrayEquals(new long[] {id}, tok.encode(specials.get(id)), specials.get(id));
        }
        long[] ids = tok.encode("a<image>b<end_of_utterance>");
        assertEquals(DemoSpec.IMAGE_TOKEN_ID, ids[1]);
        assertEquals(DemoSpec.END_OF_UTTERANCE_ID, ids[3]);
    }

    @Test
    void regularTokensStartAfterSpecials() {
        for (String s : List.of("a", " ", "\n", "What colour is the shape?", "\u00e9\uD83D\uDE00", "\u0000\u0001")) {
            for (long id : tok.encode(s)) {
                assertTrue(id >= DemoSpec.FIRST_REGULAR_ID && id < DemoSpec.VOCAB_SIZE, s + " -> " + id);
            }
        }
    }

    @Test
    void roundTrip() {
        for (String s : new String[] {
                "", "What colour is the shape?", " red", "The shape is a purple diamond.", "  two\tspaces \r\n\n",
                "digits 0123456789 and 3.14159", "caf\u00e9 na\u00efve \u00fcber \u00df \u4e2d\u6587 \u65e5\u672c\u8a9e \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0440\u0443\u0441\u0441\u043a\u0438\u0439",
                "emoji \uD83D\uDE00\uD83D\uDC4D\uD83C\uDFFD \uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67 \uD83C\uDDEB\uD83C\uDDF7",
                "control \u0000\u0001\u001f\u007f and e\u0301 zero\u200Bwidth \uFEFF bom", "{\"json\": [1, 2]} <not-special> <image",
                "\uD834\uDD1E musical \uD83E\uDD80 crab", "   ", "\n"}) {
            long[] ids = tok.encode(s);
            assertEquals(s, tok.decode(ids, false), s);
            assertEquals(s, tok.decode(ids, true), s);
        }
        String withSpecial = "<|im_start|>User:<image>Hi \uD83D\uDE00<end_of_utterance>\nAssistant:";
        assertEquals(withSpecial, tok.decode(tok.encode(withSpecial), false));
        assertEquals("User:Hi \uD83D\uDE00\nAssistant:", tok.decode(tok.encode(withSpecial), true));
    }

    @Test
    void demoWordsAreFewTokens() {
        long[] q = tok.encode("What colour is the shape?");
        assertTrue(q.length < 15, "question is " + q.length + " tokens: " + Arrays.toString(tok.tokens("What colour is the shape?")));
        for (String w : List.of(" red", " green", " blue", " yellow", " purple", " orange", " circle", " square")) {
            assertEquals(1, tok.encode(w).length, w + " -> " + Arrays.toString(tok.tokens(w)));
        }
    }

    @Test
    void deterministic(@TempDir Path other) throws IOException {
        DemoTokenizer.writeTo(other);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "added_tokens.json", "chat_template.json")) {
            assertEquals(Files.readString(dir.resolve(f)), Files.readString(other.resolve(f)), f);
        }
    }

    @Test
    void configFiles() throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode config = json.readTree(dir.resolve("tokenizer_config.json").toFile());
        assertEquals(DemoSpec.MAX_POSITION_EMBEDDINGS, config.get("model_max_length").asInt());
        assertTrue(config.get("chat_template") == null);
        assertEquals(DemoSpec.FIRST_REGULAR_ID, config.get("added_tokens_decoder").size());
        assertEquals(DemoSpec.IMAGE, config.get("added_tokens_decoder").get(Integer.toString(DemoSpec.IMAGE_TOKEN_ID)).get("content").asText());
        assertTrue(config.get("added_tokens_decoder").get("0").get("special").asBoolean());
        JsonNode added = json.readTree(dir.resolve("added_tokens.json").toFile());
        assertEquals(DemoSpec.GLOBAL_IMAGE_ID, added.get(DemoSpec.GLOBAL_IMAGE).asInt());
        JsonNode map = json.readTree(dir.resolve("special_tokens_map.json").toFile());
        assertEquals(DemoSpec.END_OF_UTTERANCE, map.get("eos_token").get("content").asText());
        for (JsonNode t : json.readTree(dir.resolve("tokenizer.json").toFile()).get("added_tokens")) {
            assertTrue(t.get("special").asBoolean());
        }
    }

    @Test
    void chatTemplateRendersLikeSmolVlms() throws IOException {
        ChatTemplate demo = ChatTemplate.load(dir);
        ChatTemplate real = ChatTemplate.load(SharedModels.smolVlmDir());
        assertEquals(DemoTokenizer.CHAT_TEMPLATE, demo.template());
        assertTrue(!demo.template().equals(real.template()));
        List<List<Map<String, Object>>> conversations = List.of(
                List.of(ChatTemplate.userMessage("What is this?", true)),
                List.of(ChatTemplate.userMessage("What colour is the shape?", false)),
                List.of(ChatTemplate.userMessage("What colour is the shape?", true), ChatTemplate.assistantMessage("red")),
                List.of(Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "A"), Map.of("type", "image"),
                                Map.of("type", "text", "text", " {{ not jinja }} \n"), Map.of("type", "image"))),
                        ChatTemplate.assistantMessage(" two  \uD83D\uDE00\n"), ChatTemplate.userMessage("ok", true),
                        Map.of("role", "system", "content", List.of(Map.of("type", "text", "text", "sys")))));
        for (List<Map<String, Object>> m : conversations) {
            for (boolean gen : new boolean[] {false, true}) {
                assertEquals(real.render(m, gen), demo.render(m, gen), m + " gen=" + gen);
            }
        }
        assertEquals("<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:", demo.prompt("What is this?", true));
        assertEquals(" red<end_of_utterance>\n", demo.completion("red"));
    }

    @Test
    void expandedDemoPrompt() throws IOException {
        ChatTemplate t = ChatTemplate.load(dir);
        String prompt = PromptExpander.expand(t.prompt("What colour is the shape?", true), new TileGrid(2, 2), DemoSpec.IMAGE_SEQ_LEN);
        long[] ids = tok.encode(prompt);
        assertEquals(DemoSpec.IM_START_ID, ids[0]);
        assertEquals(5 * DemoSpec.IMAGE_SEQ_LEN, Arrays.stream(ids).filter(id -> id == DemoSpec.IMAGE_TOKEN_ID).count());
        long[] structural = Arrays.stream(ids).filter(id -> id > DemoSpec.IMAGE_TOKEN_ID && id < DemoSpec.FIRST_REGULAR_ID).toArray();
        long rowCol22 = DemoSpec.FIRST_ROW_COL_ID + 7; // <row_2_col_2>
        assertArrayEquals(new long[] {DemoSpec.FIRST_ROW_COL_ID, DemoSpec.FIRST_ROW_COL_ID + 1,
                DemoSpec.FIRST_ROW_COL_ID + 6, rowCol22, DemoSpec.GLOBAL_IMAGE_ID}, structural);
        assertEquals(6, Arrays.stream(ids).filter(id -> id == DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID).count());
        assertEquals(prompt, tok.decode(ids, false));
    }
}
