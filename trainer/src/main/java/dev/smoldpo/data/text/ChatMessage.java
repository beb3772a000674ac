package dev.smoldpo.data.text;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One turn of a conversation in the multimodal shape transformers' chat templates take: a role
 * ({@code system}, {@code user}, {@code assistant}) and a list of parts, each {@code {"type": "image"}}
 * or {@code {"type": "text", "text": ...}} — the shape TRL documents for vision preference datasets.
 */
public record ChatMessage(String role, List<Part> content) {
    /** One part of a message: an image placeholder, or text. */
    public record Part(String type, String text) {
        public static final String IMAGE = "image";
        public static final String TEXT = "text";

        public Part {
            Objects.requireNonNull(type, "type");
            if (type.equals(TEXT)) {
                Objects.requireNonNull(text, "text");
            }
        }

        public static Part image() {
            return new Part(IMAGE, null);
        }

        public static Part text(String text) {
            return new Part(TEXT, text);
        }

        public boolean isImage() {
            return type.equals(IMAGE);
        }

        public boolean isText() {
            return type.equals(TEXT);
        }
    }

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        content = List.copyOf(content);
    }

    /** A user turn: {@code images} image placeholders, then the text (the order SmolVLM's examples use). */
    public static ChatMessage user(String text, int images) {
        List<Part> parts = new ArrayList<>();
        for (int i = 0; i < images; i++) {
            parts.add(Part.image());
        }
        parts.add(Part.text(text));
        return new ChatMessage("user", parts);
    }

    public static ChatMessage assistant(String text) {
        return new ChatMessage("assistant", List.of(Part.text(text)));
    }

    /** Image placeholders in this message. */
    public int imageCount() {
        return (int) content.stream().filter(Part::isImage).count();
    }

    /** The message's text parts, joined. */
    public String text() {
        StringBuilder b = new StringBuilder();
        content.stream().filter(Part::isText).forEach(p -> b.append(p.text()));
        return b.toString();
    }

    /** The message as the chat template sees it: {@code {role, content: [{type, text?}, ...]}}. */
    public Map<String, Object> toTemplate() {
        List<Map<String, Object>> parts = new ArrayList<>();
        for (Part p : content) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", p.type());
            if (p.text() != null) {
                m.put("text", p.text());
            }
            parts.add(m);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", parts);
        return m;
    }

    /** Image placeholders over several messages. */
    public static int imageCount(List<ChatMessage> messages) {
        return messages.stream().mapToInt(ChatMessage::imageCount).sum();
    }

    /** The text of several messages, joined with newlines (for display and simple checks). */
    public static String text(List<ChatMessage> messages) {
        return String.join("\n", messages.stream().map(ChatMessage::text).toList());
    }

    /** {@link #toTemplate()} of each message. */
    public static List<Map<String, Object>> toTemplate(List<ChatMessage> messages) {
        return messages.stream().map(ChatMessage::toTemplate).toList();
    }
}
