package dev.smoldpo.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Rows left out of training, counted by reason, with the first few source rows of each reason.
 * Immutable; build one with {@link Builder} (thread-safe), to which both the dataset reader (at
 * open) and the trainer (undecodable images, over-long pairs, ...) can add.
 *
 * @param counts   reason → number of rows, sorted by reason
 * @param examples reason → up to {@link #MAX_EXAMPLES} source rows (0-based), ascending
 * @param notes    reason → what was wrong with the first row noted for it (e.g. which image value is
 *                 unusable), for reasons whose name alone does not tell the user what to fix
 */
public record SkipReport(Map<String, Long> counts, Map<String, List<Long>> examples, Map<String, String> notes) {

    /** Text column (RLHF-V) or JSONL line is not a parsable JSON object. */
    public static final String BAD_JSON = "bad_json";
    /** The RLHF-V {@code text} column is null. */
    public static final String MISSING_TEXT = "missing_text";
    public static final String MISSING_QUESTION = "missing_question";
    public static final String MISSING_CHOSEN = "missing_chosen";
    public static final String MISSING_REJECTED = "missing_rejected";
    public static final String EMPTY_QUESTION = "empty_question";
    public static final String EMPTY_CHOSEN = "empty_chosen";
    public static final String EMPTY_REJECTED = "empty_rejected";
    /** chosen and rejected are equal after trimming. */
    public static final String IDENTICAL_ANSWERS = "identical_answers";
    /** A text holds a literal {@code <image>}: images are placed by the chat template, never by the text. */
    public static final String IMAGE_TOKEN_IN_TEXT = "image_token_in_text";
    /** The prompt's image placeholders ({@code {"type": "image"}} parts) do not match the row's images. */
    public static final String IMAGE_COUNT_MISMATCH = "image_count_mismatch";
    /** A conversational value that is not a list of {role, content} messages TRL's format allows. */
    public static final String BAD_MESSAGES = "bad_messages";
    /** The dataset has images but this row has none (no bytes, or a string that is not a file, data: URI or base64 image). */
    public static final String MISSING_IMAGE = "missing_image";
    /** The image bytes cannot be decoded (see {@link ImageCheck}). */
    public static final String UNDECODABLE_IMAGE = "undecodable_image";
    /** The image is larger than {@link ImageCheck#MAX_PIXELS}. */
    public static final String IMAGE_TOO_LARGE = "image_too_large";

    /** Example rows kept per reason. */
    public static final int MAX_EXAMPLES = 5;

    public SkipReport {
        counts = Collections.unmodifiableMap(new TreeMap<>(counts));
        Map<String, List<Long>> ex = new TreeMap<>();
        examples.forEach((k, v) -> ex.put(k, List.copyOf(v)));
        examples = Collections.unmodifiableMap(ex);
        notes = Collections.unmodifiableMap(new TreeMap<>(notes));
    }

    public SkipReport(Map<String, Long> counts, Map<String, List<Long>> examples) {
        this(counts, examples, Map.of());
    }

    public static SkipReport empty() {
        return new SkipReport(Map.of(), Map.of());
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Rows skipped for any reason. */
    public long total() {
        long t = 0;
        for (long c : counts.values()) t += c;
        return t;
    }

    public long count(String reason) {
        return counts.getOrDefault(reason, 0L);
    }

    public boolean isEmpty() {
        return total() == 0;
    }

    /** Both reports together. */
    public SkipReport merge(SkipReport other) {
        return builder().addAll(this).addAll(other).build();
    }

    /** {@code {"total": n, "counts": {reason: n}, "examples": {reason: [rows]}, "notes": {reason: text}}}, for JSON/YAML writers. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("total", total());
        m.put("counts", new LinkedHashMap<>(counts));
        m.put("examples", new LinkedHashMap<>(examples));
        m.put("notes", new LinkedHashMap<>(notes));
        return m;
    }

    /**
     * One line, e.g. {@code 3 skipped: bad_json=1 (row 7) identical_answers=2 (rows 3, 9)}, a reason's note
     * after its rows: {@code missing_image=2 (rows 4, 6; row 4: image 1 "x" is not a file, ...)}.
     */
    public String summary() {
        if (isEmpty()) return "none skipped";
        StringBuilder sb = new StringBuilder().append(total()).append(" skipped:");
        counts.forEach((reason, n) -> {
            List<Long> rows = examples.getOrDefault(reason, List.of());
            String note = notes.get(reason);
            sb.append(' ').append(reason).append('=').append(n);
            if (rows.size() == 1 && n == 1 && note != null && note.startsWith("row " + rows.getFirst() + ": ")) {
                rows = List.of(); // the note names the one row already
            }
            if (!rows.isEmpty() || note != null) {
                sb.append(" (");
                if (!rows.isEmpty()) {
                    sb.append(rows.size() == 1 ? "row " : "rows ");
                    for (int i = 0; i < rows.size(); i++) sb.append(i == 0 ? "" : ", ").append(rows.get(i));
                    if (n > rows.size()) sb.append(", ...");
                }
                sb.append(note == null ? "" : (rows.isEmpty() ? "" : "; ") + note).append(')');
            }
        });
        return sb.toString();
    }

    @Override
    public String toString() {
        return summary();
    }

    /** Thread-safe accumulator: counters per reason plus the smallest few example rows. */
    public static final class Builder {
        private final ConcurrentHashMap<String, LongAdder> counts = new ConcurrentHashMap<>();
        private final ConcurrentHashMap<String, List<Long>> examples = new ConcurrentHashMap<>();
        private final ConcurrentHashMap<String, String> notes = new ConcurrentHashMap<>();

        /** Counts one row skipped for {@code reason}; {@code sourceRow} < 0 for no example row. */
        public Builder add(String reason, long sourceRow) {
            return add(reason, 1, sourceRow < 0 ? List.of() : List.of(sourceRow));
        }

        /**
         * Counts one row skipped for {@code reason} with a note on what is wrong with it, kept as
         * {@code row N: note}; the reason keeps the first note it is given (so, from a reader going through
         * the file in order, its first row's).
         */
        public Builder add(String reason, long sourceRow, String note) {
            add(reason, sourceRow);
            if (note != null) {
                notes.putIfAbsent(reason, (sourceRow < 0 ? "" : "row " + sourceRow + ": ") + note);
            }
            return this;
        }

        /** Counts {@code n} rows skipped for {@code reason}, with some of their rows as examples. */
        public Builder add(String reason, long n, List<Long> exampleRows) {
            if (reason == null || reason.isBlank()) throw new IllegalArgumentException("empty skip reason");
            if (n < 0) throw new IllegalArgumentException("negative count " + n);
            counts.computeIfAbsent(reason, k -> new LongAdder()).add(n);
            List<Long> ex = examples.computeIfAbsent(reason, k -> new ArrayList<>());
            synchronized (ex) {
                for (Long r : exampleRows) {
                    if (ex.contains(r)) continue;
                    ex.add(r);
                    Collections.sort(ex);
                    if (ex.size() > MAX_EXAMPLES) ex.removeLast();
                }
            }
            return this;
        }

        public Builder addAll(SkipReport report) {
            report.counts().forEach((reason, n) -> add(reason, n, report.examples().getOrDefault(reason, List.of())));
            report.notes().forEach(notes::putIfAbsent);
            return this;
        }

        public long total() {
            long t = 0;
            for (LongAdder a : counts.values()) t += a.sum();
            return t;
        }

        /** A snapshot of what was counted so far. */
        public SkipReport build() {
            Map<String, Long> c = new TreeMap<>();
            counts.forEach((k, v) -> {
                if (v.sum() > 0) c.put(k, v.sum());
            });
            Map<String, List<Long>> e = new TreeMap<>();
            for (String k : c.keySet()) {
                List<Long> ex = examples.get(k);
                if (ex == null) continue;
                synchronized (ex) {
                    if (!ex.isEmpty()) e.put(k, List.copyOf(ex));
                }
            }
            Map<String, String> n = new TreeMap<>(notes);
            n.keySet().retainAll(c.keySet());
            return new SkipReport(c, e, n);
        }
    }
}
