package dev.smoldpo.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * One preference pair as read from a dataset.
 *
 * @param id        the row's id (the dataset's {@code id} or {@code idx} column, else the row number)
 * @param image     the encoded image bytes (JPEG, PNG, ...), or null for a text-only pair
 * @param prompt    the question
 * @param chosen    the preferred answer
 * @param rejected  the dispreferred answer
 * @param sourceRow 0-based row of the source file (parquet row, or JSONL line)
 */
public record PreferenceExample(String id, byte[] image, String prompt, String chosen, String rejected, long sourceRow) {

    public PreferenceExample {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(chosen, "chosen");
        Objects.requireNonNull(rejected, "rejected");
    }

    public boolean hasImage() {
        return image != null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PreferenceExample e && id.equals(e.id) && Arrays.equals(image, e.image)
                && prompt.equals(e.prompt) && chosen.equals(e.chosen) && rejected.equals(e.rejected)
                && sourceRow == e.sourceRow;
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, Arrays.hashCode(image), prompt, chosen, rejected, sourceRow);
    }

    @Override
    public String toString() {
        return "PreferenceExample[id=" + id + ", row=" + sourceRow + ", image="
                + (image == null ? "none" : image.length + " bytes") + ", prompt=" + abbreviate(prompt)
                + ", chosen=" + abbreviate(chosen) + ", rejected=" + abbreviate(rejected) + "]";
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? '"' + s + '"' : '"' + s.substring(0, 37) + "...\"";
    }
}
