package dev.smoldpo.infer;

import dev.smoldpo.data.text.HfTokenizer;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Incremental detokenisation: after each new token the whole generated id list is decoded and only
 * the new suffix is passed on, so characters split over several byte tokens come out whole. Text that
 * ends in an incomplete character (U+FFFD from the tokenizer's byte fallback) is held back until a
 * later token completes it, or until {@link #finish()}.
 */
public final class TextStream {
    private static final char REPLACEMENT = '\uFFFD';

    private final HfTokenizer tokenizer;
    private final Consumer<String> sink;
    private long[] ids = new long[16];
    private int count;
    private String emitted = "";
    private String text = "";

    public TextStream(HfTokenizer tokenizer, Consumer<String> sink) {
        this.tokenizer = tokenizer;
        this.sink = sink == null ? s -> { } : sink;
    }

    /** Adds one generated token and passes on any text that is now complete. */
    public void push(long id) {
        if (count == ids.length) ids = Arrays.copyOf(ids, count * 2);
        ids[count++] = id;
        text = tokenizer.decode(Arrays.copyOf(ids, count), true);
        if (!text.isEmpty() && text.charAt(text.length() - 1) == REPLACEMENT) return;
        emit(text);
    }

    /** Passes on whatever is left (an incomplete trailing character included). */
    public void finish() {
        if (!text.startsWith(emitted)) {
            int common = 0;
            while (common < Math.min(text.length(), emitted.length()) && text.charAt(common) == emitted.charAt(common)) {
                common++;
            }
            emitted = emitted.substring(0, common);
        }
        emit(text);
    }

    /** The decoded text of all tokens pushed so far. */
    public String text() {
        return text;
    }

    private void emit(String full) {
        if (full.startsWith(emitted)) {
            String suffix = full.substring(emitted.length());
            if (!suffix.isEmpty()) sink.accept(suffix);
            emitted = full;
        }
        // else: decoding the longer list rewrote earlier text (rare, e.g. a cleanup rule); wait until it is
        // consistent again rather than repeat text already shown
    }
}
