package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What export-artifacts checks before it writes anything, on a real demo checkpoint broken one way
 * per test: each fails with exit code 1, an {@code error:} line naming the file and the field, and
 * no output folder (nor a temporary one) left behind.
 */
class ExportPrerequisitesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    Path model;
    Path outParent;

    @BeforeEach
    void demo() throws Exception {
        model = DemoModel.write(dir.resolve("model"), 5);
        outParent = Files.createDirectories(dir.resolve("out"));
    }

    /** Runs the export; asserts exit code 1, one short error line, and nothing in the output parent. */
    private String failingExport() throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("export-artifacts", model.toString(), "--out", outParent.resolve("artifacts").toString());
        } finally {
            System.setErr(old);
        }
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, code, stderr);
        int at = stderr.indexOf("error: "); // after any library warnings (DJL's SLF4J notice on first use)
        assertTrue(at >= 0, stderr);
        String message = stderr.substring(at);
        assertFalse(message.contains("[Source:") || message.contains("reference chain"), "no raw Jackson text: " + message);
        assertTrue(message.length() < ErrorMessage.MAX_CHARS + 100, "capped: " + message.length() + " characters");
        try (Stream<Path> left = Files.list(outParent)) {
            assertTrue(left.findAny().isEmpty(), "nothing may be left in " + outParent);
        }
        return message;
    }

    private static void assertMentions(String message, String... parts) {
        for (String part : parts) {
            assertTrue(message.contains(part), "expected '" + part + "' in: " + message);
        }
    }

    private void editJson(String file, Consumer<ObjectNode> edit) throws Exception {
        Path path = model.resolve(file);
        ObjectNode root = (ObjectNode) JSON.readTree(path.toFile());
        edit.accept(root);
        JSON.writerWithDefaultPrettyPrinter().writeValue(path.toFile(), root);
    }

    @Test
    void unparsableTokenizer() throws Exception {
        Files.writeString(model.resolve("tokenizer.json"), "{\n  \"version\": \"1.0\",\n  \"model\": {\"vocab\": {\"a\": 1,}}\n}\n");
        assertMentions(failingExport(), "tokenizer.json: not valid JSON at line 3 column ");
    }

    @Test
    void tokenizerWithoutVocabulary() throws Exception {
        editJson("tokenizer.json", root -> ((ObjectNode) root.get("model")).remove("vocab"));
        assertMentions(failingExport(), "tokenizer.json", "'model.vocab'");
    }

    @Test
    void tokenizerWhoseImageTokenIsNotTheConfigs() throws Exception {
        editJson("config.json", root -> root.put("image_token_id", 7));
        assertMentions(failingExport(), "tokenizer.json", "<image> is id 5", "config.json has image_token_id 7");
    }

    @Test
    void unparsableChatTemplate() throws Exception {
        Files.writeString(model.resolve("chat_template.json"), "{\"chat_template\": \"{{ x }}\"\n\"more\": 1}");
        assertMentions(failingExport(), "chat_template.json: not valid JSON at line 2 column ");
    }

    @Test
    void chatTemplateFileWithoutTheField() throws Exception {
        Files.writeString(model.resolve("chat_template.json"), "{\"template\": \"{{ x }}\"}");
        assertMentions(failingExport(), "chat_template.json", "missing required field 'chat_template'");
    }

    @Test
    void noChatTemplateAnywhere() throws Exception {
        Files.delete(model.resolve("chat_template.json"));
        assertMentions(failingExport(), "no chat template", "chat_template.json does not exist",
                "tokenizer_config.json has no field 'chat_template'");
    }

    @Test
    void chatTemplateThatDoesNotRender() throws Exception {
        editJson("chat_template.json", root -> root.put("chat_template", "{% for m in messages %}{{ m['role'] }"));
        assertMentions(failingExport(), "chat_template.json field 'chat_template'");
    }

    @Test
    void missingPreprocessorConfig() throws Exception {
        Files.delete(model.resolve("preprocessor_config.json"));
        assertMentions(failingExport(), "preprocessor_config.json is missing");
    }

    @Test
    void unparsablePreprocessorConfig() throws Exception {
        Files.writeString(model.resolve("preprocessor_config.json"), "{\"max_image_size\": {\"longest_edge\": 32}");
        assertMentions(failingExport(), "preprocessor_config.json: not valid JSON at line 1 column ");
    }

    @Test
    void preprocessorFieldOfTheWrongType() throws Exception {
        editJson("preprocessor_config.json", root -> root.put("do_image_splitting", "yes"));
        assertMentions(failingExport(), "preprocessor_config.json", "'do_image_splitting' is \"yes\"");
    }

    @Test
    void missingProcessorConfig() throws Exception {
        Files.delete(model.resolve("processor_config.json"));
        assertMentions(failingExport(), "processor_config.json is missing");
    }

    @Test
    void unparsableProcessorConfig() throws Exception {
        Files.writeString(model.resolve("processor_config.json"), "[\"image_seq_len\", 4]");
        assertMentions(failingExport(), "processor_config.json: expected a JSON object");
        Files.writeString(model.resolve("processor_config.json"), "{image_seq_len: 4}");
        assertMentions(failingExport(), "processor_config.json: not valid JSON at line 1 column 2");
    }

    @Test
    void processorImageSeqLenOfAnotherModel() throws Exception {
        editJson("processor_config.json", root -> root.put("image_seq_len", 64));
        assertMentions(failingExport(), "processor_config.json", "'image_seq_len' is 64", "makes 4 tokens");
    }

    @Test
    void tileSizeThatIsNotTheVisionTowersImageSize() throws Exception {
        editJson("preprocessor_config.json", root -> ((ObjectNode) root.get("max_image_size")).put("longest_edge", 64));
        assertMentions(failingExport(), "preprocessor_config.json", "'max_image_size.longest_edge' (the tile size) is 64",
                "vision_config.image_size 32");
    }

    @Test
    void nanWeightIsNamedWithItsElement() throws Exception {
        String tensor = "model.text_model.layers.1.mlp.down_proj.weight"; // [32, 64]
        poke(tensor, 2 * 64 + 5, Float.NaN);
        assertMentions(failingExport(), "model.safetensors", "tensor '" + tensor + "'", "NaN", "at element 133 [2, 5]");
    }

    @Test
    void infiniteWeightInAnEmbeddingIsNamed() throws Exception {
        String tensor = "model.text_model.embed_tokens.weight"; // read as is, not transposed
        poke(tensor, 1000, Float.NEGATIVE_INFINITY);
        assertMentions(failingExport(), "model.safetensors", "tensor '" + tensor + "'", "-Infinity", "at element 1000 [31, 8]");
    }

    @Test
    void aMillionLayersFailAtOnceWithAShortMessage() throws Exception {
        editJson("config.json", root -> ((ObjectNode) root.get("text_config")).put("num_hidden_layers", 1_000_000));
        long start = System.nanoTime();
        String message = failingExport();
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds < 5, "took " + seconds + " s");
        assertTrue(message.length() < 400, message);
        assertMentions(message, "config.json", "'text_config.num_hidden_layers' is 1000000", "1..1024");
    }

    @Test
    void weightListsInMessagesAreCapped() throws Exception {
        // a config with many more layers than the weights hold: hundreds of missing tensors
        editJson("config.json", root -> ((ObjectNode) root.get("text_config")).put("num_hidden_layers", 200));
        String message = failingExport();
        assertMentions(message, "model.safetensors does not match", "config.json",
                "the header lists ", "the config expects 1841 tensors", "1782 missing",
                "model.text_model.layers.2.self_attn.q_proj.weight", "... and 1762 more");
        assertFalse(message.contains("model.text_model.layers.199."), message);
    }

    @Test
    void everyMessageIsCapped() throws Exception {
        // a checkpoint whose tensor is renamed to a 5,000-character name: the message quotes it
        String tensor = "model.text_model.norm.weight";
        String longName = "x".repeat(5000);
        byte[] all = Files.readAllBytes(model.resolve("model.safetensors"));
        long headerLength = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(all, 8, (int) headerLength, StandardCharsets.UTF_8).replace(tensor, longName);
        byte[] newHeader = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + newHeader.length + all.length - 8 - (int) headerLength).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(newHeader.length).put(newHeader).put(all, 8 + (int) headerLength, all.length - 8 - (int) headerLength);
        Files.write(model.resolve("model.safetensors"), out.array());
        String message = failingExport();
        assertMentions(message, tensor, "more characters)");
    }

    /** Overwrites one F32 element of a tensor in model.safetensors, in place. */
    private void poke(String tensor, long element, float value) throws Exception {
        Path file = model.resolve("model.safetensors");
        long at;
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            TensorInfo info = st.info(tensor);
            assertEquals("F32", info.dtype());
            at = 8 + st.headerLength() + info.begin() + 4 * element;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, value), at);
        }
    }
}
