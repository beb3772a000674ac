package dev.smoldpo.data.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplateTest {

    @Test
    void realSmolVlmPrompt() throws IOException {
        ChatTemplate t = ChatTemplate.load(SharedModels.smolVlmDir());
        List<Map<String, Object>> messages = List.of(Map.of("role", "user", "content",
                List.of(Map.of("type", "image"), Map.of("type", "text", "text", "What is this?"))));
        assertEquals("<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:", t.render(messages, true));
        assertEquals("<|im_start|>User:<image>What is this?<end_of_utterance>\n", t.render(messages, false));
        assertEquals("<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:", t.prompt("What is this?", true));
        assertEquals("<|im_start|>User: What is this?<end_of_utterance>\nAssistant:", t.prompt("What is this?", false));
    }

    @Test
    void realSmolVlmCompletion() throws IOException {
        ChatTemplate t = ChatTemplate.load(SharedModels.smolVlmDir());
        assertEquals(" A red circle.<end_of_utterance>\n", t.completion("A red circle."));
        assertEquals(" red<end_of_utterance>\n", t.completion("What colour is the shape?", false, "red"));
        String full = t.render(List.of(ChatTemplate.userMessage("Q?", true), ChatTemplate.assistantMessage("A")), false);
        assertEquals(t.prompt("Q?", true) + t.completion("Q?", true, "A"), full);
        assertEquals("<|im_start|>User:<image>Q?<end_of_utterance>\nAssistant: A<end_of_utterance>\n", full);
    }

    @Test
    void multiTurnAndTextFirst() throws IOException {
        ChatTemplate t = ChatTemplate.load(SharedModels.smolVlmDir());
        List<Map<String, Object>> messages = List.of(
                Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "Look:"), Map.of("type", "image"),
                        Map.of("type", "text", "text", " and this"), Map.of("type", "image"))),
                ChatTemplate.assistantMessage("Two images."),
                ChatTemplate.userMessage("Thanks", false));
        assertEquals("<|im_start|>User: Look:<image> and this<image><end_of_utterance>\n"
                + "Assistant: Two images.<end_of_utterance>\nUser: Thanks<end_of_utterance>\nAssistant:",
                t.render(messages, true));
    }

    @Test
    void fallsBackToTokenizerConfig(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"</s>\"},"
                        + " \"chat_template\": \"{{ bos_token }}{% for m in messages %}{{ m['content'][0]['text'] }}{{ eos_token }}{% endfor %}\"}");
        ChatTemplate t = ChatTemplate.load(dir);
        assertEquals("<s>hi</s>", t.render(List.of(ChatTemplate.userMessage("hi", false)), false));
    }

    @Test
    void trimBlocksLikeTransformers() {
        // transformers compiles templates with trim_blocks and lstrip_blocks
        ChatTemplate t = new ChatTemplate("{% for m in messages %}\n  {% if true %}\n[{{ m['role'] }}]\n  {% endif %}\n{% endfor %}");
        assertEquals("[user]\n", t.render(List.of(ChatTemplate.userMessage("x", false)), false));
    }

    @Test
    void missingTemplateIsAClearError(@TempDir Path dir) throws IOException {
        IOException e = assertThrows(IOException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().contains("chat_template"), e.getMessage());
    }

    /** A chat_template.json without its field is an error, not a silent fall-back to tokenizer_config.json. */
    @Test
    void chatTemplateFileWithoutItsFieldIsAnError(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ 1 }}\"}");
        Files.writeString(dir.resolve("chat_template.json"), "{\"template\": \"{{ 2 }}\"}");
        IOException e = assertThrows(IOException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().equals(dir.resolve("chat_template.json") + ": missing required field 'chat_template'"),
                e.getMessage());
    }

    @Test
    void templatesThatAreNotAStringOrNotJsonAreNamed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"default\", \"template\": \"x\"}]}");
        IOException e = assertThrows(IOException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer_config.json") + ": field 'chat_template' is [{"), e.getMessage());
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"x\" \"eos_token\": 1}");
        e = assertThrows(IOException.class, () -> ChatTemplate.load(dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer_config.json") + ": not valid JSON at line 1 column "),
                e.getMessage());
    }

    @Test
    void renderErrorsNameWhereTheTemplateCameFrom(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("chat_template.json"), "{\"chat_template\": \"{% for m in messages %}{{ m.role }\"}");
        ChatTemplate t = ChatTemplate.load(dir);
        assertEquals(dir.resolve("chat_template.json") + " field 'chat_template'", t.origin());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.prompt("?", true));
        assertTrue(e.getMessage().startsWith(t.origin() + ": the chat template failed: "), e.getMessage());
    }
}
