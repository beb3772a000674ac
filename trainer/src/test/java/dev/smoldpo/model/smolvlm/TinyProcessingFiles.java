package dev.smoldpo.model.smolvlm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.model.demo.DemoTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The processing files an export checks (tokenizer.json, chat template, preprocessor and processor configs)
 * for a tiny checkpoint whose vocabulary is smaller than the demo tokenizer's: a word-level tokenizer of
 * exactly {@code vocabSize} tokens with SmolVLM's special tokens at the demo's ids ({@code <image>} = 5).
 */
final class TinyProcessingFiles {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SPECIAL = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>",
            "<fake_token_around_image>", "<image>", "<global-img>", "<unk>");

    private TinyProcessingFiles() {}

    static void write(Path dir, int vocabSize, int tileSize, int imageSeqLen) throws IOException {
        ObjectNode vocab = JSON.createObjectNode();
        ArrayNode added = JSON.createArrayNode();
        for (int id = 0; id < vocabSize; id++) {
            String token = id < SPECIAL.size() ? SPECIAL.get(id) : "w" + id;
            vocab.put(token, id);
            if (id < SPECIAL.size() - 1) {
                added.addObject().put("id", id).put("content", token).put("special", true).put("single_word", false)
                        .put("lstrip", false).put("rstrip", false).put("normalized", false);
            }
        }
        ObjectNode tokenizer = JSON.createObjectNode();
        tokenizer.put("version", "1.0");
        tokenizer.set("added_tokens", added);
        tokenizer.putObject("pre_tokenizer").put("type", "Whitespace");
        ObjectNode model = tokenizer.putObject("model");
        model.put("type", "WordLevel");
        model.set("vocab", vocab);
        model.put("unk_token", "<unk>");
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizer);
        JSON.writeValue(dir.resolve("chat_template.json").toFile(), JSON.createObjectNode().put("chat_template",
                DemoTokenizer.CHAT_TEMPLATE));
        ObjectNode pre = JSON.createObjectNode();
        pre.put("do_image_splitting", true);
        pre.putObject("max_image_size").put("longest_edge", tileSize);
        pre.putObject("size").put("longest_edge", 2 * tileSize);
        JSON.writeValue(dir.resolve("preprocessor_config.json").toFile(), pre);
        JSON.writeValue(dir.resolve("processor_config.json").toFile(), JSON.createObjectNode().put("image_seq_len", imageSeqLen));
    }
}
