package dev.smoldpo.data.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.hf.HfFormatException;
import dev.smoldpo.hf.JsonFiles;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's Jinja {@code chat_template}, rendered with Jinjava the way transformers'
 * {@code apply_chat_template} renders it: {@code trim_blocks} and {@code lstrip_blocks} on, variables
 * {@code messages}, {@code add_generation_prompt} and the special tokens ({@code bos_token},
 * {@code eos_token}, {@code pad_token}, {@code unk_token}) when tokenizer_config.json names them.
 *
 * <p>Messages have the multimodal shape transformers passes:
 * {@code [{"role":"user","content":[{"type":"image"},{"type":"text","text":"What is this?"}]}]}.
 * SmolVLM's template renders that with {@code add_generation_prompt} as
 * {@code <|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:}.
 */
public final class ChatTemplate {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] SPECIAL_TOKEN_KEYS = {"bos_token", "eos_token", "pad_token", "unk_token"};

    private final String template;
    private final Map<String, Object> globals;
    private final Jinjava jinjava;
    private final String origin;

    /**
     * A template with extra global variables (e.g. {@code bos_token}); {@code globals} may be empty;
     * {@code origin} says where it was read (file and field), for messages.
     */
    public ChatTemplate(String template, Map<String, ?> globals, String origin) {
        if (template == null || template.isEmpty()) throw new IllegalArgumentException("empty chat template");
        this.template = template;
        this.globals = Map.copyOf(globals);
        this.origin = origin;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build());
    }

    public ChatTemplate(String template, Map<String, ?> globals) {
        this(template, globals, "chat template");
    }

    public ChatTemplate(String template) {
        this(template, Map.of());
    }

    /**
     * Reads the template of a model folder: {@code chat_template.json}'s {@code chat_template} if that
     * file exists (then it must hold one: the file has no other use), else
     * {@code tokenizer_config.json}'s {@code chat_template}; special tokens come from
     * tokenizer_config.json when it exists.
     *
     * @throws IOException naming the file and field when neither file has a chat template, when one
     *     is not valid JSON, or when the template is not a non-empty string
     */
    public static ChatTemplate load(Path modelDir) throws IOException {
        Path ct = modelDir.resolve("chat_template.json");
        Path tc = modelDir.resolve("tokenizer_config.json");
        JsonNode config = Files.isRegularFile(tc) ? JsonFiles.readObject(tc) : JSON.createObjectNode();
        String template;
        String origin;
        if (Files.isRegularFile(ct)) {
            template = templateField(JsonFiles.readObject(ct), ct);
            origin = ct + " field 'chat_template'";
        } else if (config.hasNonNull("chat_template")) {
            template = templateField(config, tc);
            origin = tc + " field 'chat_template'";
        } else {
            throw new HfFormatException("no chat template: " + ct + " does not exist and "
                    + (Files.isRegularFile(tc) ? tc + " has no field 'chat_template'" : tc + " does not exist either"));
        }
        Map<String, Object> globals = new HashMap<>();
        for (String key : SPECIAL_TOKEN_KEYS) {
            JsonNode v = config.get(key);
            if (v == null || v.isNull()) continue;
            String s = v.isTextual() ? v.asText() : v.path("content").asText(null);
            if (s != null) globals.put(key, s);
        }
        return new ChatTemplate(template, globals, origin);
    }

    private static String templateField(JsonNode root, Path file) throws HfFormatException {
        JsonNode t = root.get("chat_template");
        if (t == null || t.isNull()) {
            throw new HfFormatException(file + ": missing required field 'chat_template'");
        }
        if (!t.isTextual() || t.asText().isEmpty()) {
            throw new HfFormatException(file + ": field 'chat_template' is " + JsonFiles.quote(t)
                    + ", expected the Jinja template as a non-empty string");
        }
        return t.asText();
    }

    /** Where the template was read: file and field (or "chat template" when built in code). */
    public String origin() {
        return origin;
    }

    /** The Jinja source. */
    public String template() {
        return template;
    }

    /**
     * Renders {@code messages} (each a map with {@code role} and {@code content}, content a list of
     * {@code {type: image}} / {@code {type: text, text: ...}} maps).
     *
     * @throws IllegalStateException when Jinjava reports a fatal error
     */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        Map<String, Object> ctx = new HashMap<>(globals);
        ctx.put("messages", messages);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = jinjava.renderForResult(template, ctx);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new IllegalStateException(origin + ": the chat template failed: " + e.getMessage() + " (template line "
                        + e.getLineno() + ")");
            }
        }
        return result.getOutput();
    }

    /** The prompt of a conversation that ends with a user turn, with the generation prompt (TRL: add_generation_prompt). */
    public String prompt(List<ChatMessage> prompt) {
        return render(ChatMessage.toTemplate(prompt), true);
    }

    /**
     * What the template writes for {@code answer} after {@code prompt}: the rendered prompt + answer
     * without generation prompt, minus the rendered prompt, as TRL's {@code maybe_apply_chat_template}
     * derives chosen and rejected (trl/data_utils.py).
     *
     * @throws IllegalStateException when the rendered conversation does not start with the rendered prompt
     */
    public String completion(List<ChatMessage> prompt, List<ChatMessage> answer) {
        String rendered = prompt(prompt);
        List<ChatMessage> all = new ArrayList<>(prompt);
        all.addAll(answer);
        String full = render(ChatMessage.toTemplate(all), false);
        if (!full.startsWith(rendered)) {
            throw new IllegalStateException("the chat template does not render the prompt + answer as prompt + completion:\n"
                    + "prompt: " + rendered + "\nfull:   " + full);
        }
        return full.substring(rendered.length());
    }

    /** A user message: the image first (when {@code withImage}), then the text. */
    public static Map<String, Object> userMessage(String text, boolean withImage) {
        List<Map<String, Object>> content = new ArrayList<>();
        if (withImage) content.add(Map.of("type", "image"));
        content.add(textPart(text));
        return message("user", content);
    }

    /** An assistant message with one text part. */
    public static Map<String, Object> assistantMessage(String text) {
        return message("assistant", List.of(textPart(text)));
    }

    private static Map<String, Object> textPart(String text) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "text");
        m.put("text", text);
        return m;
    }

    private static Map<String, Object> message(String role, List<Map<String, Object>> content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    /**
     * The prompt for one question, ending with the generation prompt: for SmolVLM
     * {@code <|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:}.
     */
    public String prompt(String question, boolean withImage) {
        return render(List.of(userMessage(question, withImage)), true);
    }

    /**
     * The text the template writes for an assistant answer after the generation prompt: renders
     * [user, assistant] without generation prompt and removes the rendered prompt. For SmolVLM,
     * {@code answer} becomes {@code " answer<end_of_utterance>\n"}.
     *
     * @throws IllegalStateException when the rendered conversation does not start with the rendered prompt
     */
    public String completion(String question, boolean withImage, String answer) {
        String prompt = prompt(question, withImage);
        String full = render(List.of(userMessage(question, withImage), assistantMessage(answer)), false);
        if (!full.startsWith(prompt)) {
            throw new IllegalStateException("the chat template does not render [user, assistant] as prompt + completion:\n"
                    + "prompt: " + prompt + "\nfull:   " + full);
        }
        return full.substring(prompt.length());
    }

    /** {@link #completion(String, boolean, String)} after a fixed question with an image. */
    public String completion(String answer) {
        return completion("?", true, answer);
    }
}
