package dev.smoldpo.data;

import dev.smoldpo.data.text.ChatMessage;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One preference pair as read from a dataset: chat messages in TRL's conversational shape (a plain
 * prompt is one user turn with the row's images first) and the encoded images the prompt's image
 * parts stand for, in order.
 *
 * @param id        the row's id (the dataset's {@code id} or {@code idx} column, else the row number)
 * @param images    encoded image bytes (JPEG, PNG, WebP, ...), one per image part of the prompt; empty for text-only
 * @param prompt    the conversation up to the answer, ending with a user turn
 * @param chosen    the preferred answer (assistant turns)
 * @param rejected  the dispreferred answer (assistant turns)
 * @param sourceRow 0-based row of the source file (parquet row, or JSONL line)
 */
public record PreferenceExample(String id, List<byte[]> images, List<ChatMessage> prompt, List<ChatMessage> chosen,
                                List<ChatMessage> rejected, long sourceRow) {

    public PreferenceExample {
        Objects.requireNonNull(id, "id");
        images = List.copyOf(images);
        prompt = List.copyOf(prompt);
        chosen = List.copyOf(chosen);
        rejected = List.copyOf(rejected);
    }

    /** A pair in the standard format: a question with at most one image, and two plain answers. */
    public static PreferenceExample plain(String id, byte[] image, String prompt, String chosen, String rejected, long sourceRow) {
        return new PreferenceExample(id, image == null ? List.of() : List.of(image),
                List.of(ChatMessage.user(prompt, image == null ? 0 : 1)), List.of(ChatMessage.assistant(chosen)),
                List.of(ChatMessage.assistant(rejected)), sourceRow);
    }

    public boolean hasImage() {
        return !images.isEmpty();
    }

    /** The first image, or null for a text-only pair. */
    public byte[] image() {
        return images.isEmpty() ? null : images.getFirst();
    }

    /** The prompt's text (of every turn, joined by newlines). */
    public String promptText() {
        return ChatMessage.text(prompt);
    }

    public String chosenText() {
        return ChatMessage.text(chosen);
    }

    public String rejectedText() {
        return ChatMessage.text(rejected);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PreferenceExample e) || images.size() != e.images.size()) {
            return false;
        }
        for (int i = 0; i < images.size(); i++) {
            if (!Arrays.equals(images.get(i), e.images.get(i))) {
                return false;
            }
        }
        return id.equals(e.id) && prompt.equals(e.prompt) && chosen.equals(e.chosen) && rejected.equals(e.rejected)
                && sourceRow == e.sourceRow;
    }

    @Override
    public int hashCode() {
        int h = Objects.hash(id, prompt, chosen, rejected, sourceRow);
        for (byte[] image : images) {
            h = 31 * h + Arrays.hashCode(image);
        }
        return h;
    }

    @Override
    public String toString() {
        return "PreferenceExample[id=" + id + ", row=" + sourceRow + ", images=" + images.stream().map(b -> b.length + " bytes").toList()
                + ", prompt=" + abbreviate(promptText()) + ", chosen=" + abbreviate(chosenText())
                + ", rejected=" + abbreviate(rejectedText()) + "]";
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? '"' + s + '"' : '"' + s.substring(0, 37) + "...\"";
    }
}
