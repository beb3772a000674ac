package dev.smoldpo.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.data.text.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A row's prompt, chosen and rejected as chat messages, from either of TRL's preference formats:
 * <ul>
 *   <li>standard: plain strings; the prompt becomes one user turn with the row's images first, then
 *       the text (as SmolVLM's examples put them);</li>
 *   <li>conversational: lists of {@code {role, content}} messages, {@code content} a string or a list
 *       of {@code {"type": "image"}} / {@code {"type": "text", "text": ...}} parts; the prompt may open
 *       with a system turn and hold several turns, and must end with a user turn.</li>
 * </ul>
 * The row is unusable, with a {@link SkipReport} reason, when a text holds a literal {@code <image>}
 * (images are placed by the chat template from the image parts), when the prompt's image parts do not
 * match the row's images, or when chosen/rejected are missing, empty, equal or hold images.
 */
public record PairText(List<ChatMessage> prompt, List<ChatMessage> chosen, List<ChatMessage> rejected) {
    public static final String IMAGE_TOKEN = "<image>";
    private static final Set<String> ROLES = Set.of("system", "user", "assistant");

    /** A usable row's messages, or why the row is not usable. */
    public record Parsed(PairText text, String skipReason, String detail) {
        static Parsed skip(String reason, String detail) {
            return new Parsed(null, reason, detail);
        }
    }

    /**
     * Parses one row. Each of {@code prompt}, {@code chosen}, {@code rejected} is a JSON string (standard
     * format), a JSON array of messages (conversational), or null/missing.
     */
    public static Parsed parse(JsonNode prompt, JsonNode chosen, JsonNode rejected, int images) {
        if (absent(prompt)) {
            return Parsed.skip(SkipReport.MISSING_QUESTION, null);
        }
        if (absent(chosen)) {
            return Parsed.skip(SkipReport.MISSING_CHOSEN, null);
        }
        if (absent(rejected)) {
            return Parsed.skip(SkipReport.MISSING_REJECTED, null);
        }
        List<ChatMessage> p;
        List<ChatMessage> c;
        List<ChatMessage> r;
        try {
            p = prompt.isTextual() ? List.of(ChatMessage.user(prompt.textValue(), images)) : messages(prompt, "prompt");
            c = chosen.isTextual() ? List.of(ChatMessage.assistant(chosen.textValue())) : messages(chosen, "chosen");
            r = rejected.isTextual() ? List.of(ChatMessage.assistant(rejected.textValue())) : messages(rejected, "rejected");
        } catch (IllegalArgumentException e) {
            return Parsed.skip(SkipReport.BAD_MESSAGES, e.getMessage());
        }
        for (List<ChatMessage> part : List.of(p, c, r)) {
            for (ChatMessage m : part) {
                if (m.text().contains(IMAGE_TOKEN)) {
                    return Parsed.skip(SkipReport.IMAGE_TOKEN_IN_TEXT, (part == p ? "prompt" : part == c ? "chosen" : "rejected")
                            + " holds a literal " + IMAGE_TOKEN);
                }
            }
        }
        if (ChatMessage.text(p).isBlank()) {
            return Parsed.skip(SkipReport.EMPTY_QUESTION, null);
        }
        if (ChatMessage.text(c).isBlank()) {
            return Parsed.skip(SkipReport.EMPTY_CHOSEN, null);
        }
        if (ChatMessage.text(r).isBlank()) {
            return Parsed.skip(SkipReport.EMPTY_REJECTED, null);
        }
        if (ChatMessage.text(c).strip().equals(ChatMessage.text(r).strip())) {
            return Parsed.skip(SkipReport.IDENTICAL_ANSWERS, null);
        }
        int placeholders = ChatMessage.imageCount(p);
        if (placeholders != images || ChatMessage.imageCount(c) + ChatMessage.imageCount(r) > 0) {
            return Parsed.skip(SkipReport.IMAGE_COUNT_MISMATCH, "the prompt has " + placeholders + " image part(s), the row "
                    + images + " image(s)" + (ChatMessage.imageCount(c) + ChatMessage.imageCount(r) > 0 ? "; answers hold images" : ""));
        }
        if (!p.getLast().role().equals("user")) {
            return Parsed.skip(SkipReport.BAD_MESSAGES, "the prompt ends with a " + p.getLast().role() + " turn, not a user turn");
        }
        return new Parsed(new PairText(p, c, r), null, null);
    }

    private static boolean absent(JsonNode n) {
        return n == null || n.isNull() || n.isMissingNode();
    }

    /** A conversational value: a non-empty list of {role, content} messages. */
    static List<ChatMessage> messages(JsonNode node, String what) {
        if (!node.isArray() || node.isEmpty()) {
            throw new IllegalArgumentException(what + " is neither a string nor a list of messages");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : node) {
            String role = m.path("role").asText(null);
            if (role == null || !ROLES.contains(role)) {
                throw new IllegalArgumentException(what + " has a message without a system/user/assistant role: " + shorten(m));
            }
            JsonNode content = m.get("content");
            List<ChatMessage.Part> parts = new ArrayList<>();
            if (content != null && content.isTextual()) {
                parts.add(ChatMessage.Part.text(content.textValue()));
            } else if (content != null && content.isArray()) {
                for (JsonNode part : content) {
                    String type = part.path("type").asText("");
                    if (type.equals(ChatMessage.Part.IMAGE)) {
                        parts.add(ChatMessage.Part.image());
                    } else if (type.equals(ChatMessage.Part.TEXT) && part.path("text").isTextual()) {
                        parts.add(ChatMessage.Part.text(part.get("text").textValue()));
                    } else {
                        throw new IllegalArgumentException(what + " has a content part that is neither an image nor text: "
                                + shorten(part));
                    }
                }
            } else {
                throw new IllegalArgumentException(what + " has a message whose content is neither text nor a list of parts: "
                        + shorten(m));
            }
            out.add(new ChatMessage(role, parts));
        }
        return out;
    }

    private static String shorten(JsonNode n) {
        String s = n.toString();
        return s.length() <= 100 ? s : s.substring(0, 100) + "...";
    }
}
