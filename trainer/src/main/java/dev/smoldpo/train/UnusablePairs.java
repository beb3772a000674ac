package dev.smoldpo.train;

import dev.smoldpo.data.SkipReport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The pairs that a step or an evaluation could not use, counted by reason, each reason told with one
 * example's detail (the lengths against the limits) and the settings that would let such pairs in. The
 * run-wide counts are {@link DpoData#skipped()}'s; this is what a message about one step needs when
 * none of its pairs was usable, since a bare count does not say what to change.
 */
final class UnusablePairs {
    private final Map<String, Long> counts = new TreeMap<>();
    private final Map<String, PairEncoder.Skipped> firstOf = new TreeMap<>();

    void addAll(List<PairEncoder.Skipped> skipped) {
        for (PairEncoder.Skipped s : skipped) {
            counts.merge(s.reason(), 1L, Long::sum);
            firstOf.putIfAbsent(s.reason(), s);
        }
    }

    void addAll(UnusablePairs other) {
        other.counts.forEach((reason, n) -> counts.merge(reason, n, Long::sum));
        other.firstOf.forEach(firstOf::putIfAbsent);
    }

    boolean isEmpty() {
        return counts.isEmpty();
    }

    long total() {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * Each reason with its count, an example row's detail and the fix, e.g. {@code 8 pairs prompt_too_long
     * (row 17: the prompt is 1,130 tokens, ...; raise max_length ...)}; reasons joined by "; ".
     */
    String describe() {
        return describe(Set.of());
    }

    /** {@link #describe()}, with the reasons in {@code explained} (told in an earlier line) only counted. */
    String describe(Set<String> explained) {
        List<String> parts = new ArrayList<>();
        counts.forEach((reason, n) -> {
            String pairs = n + (n == 1 ? " pair " : " pairs ") + reason;
            if (explained.contains(reason)) {
                parts.add(pairs + " (as above)");
                return;
            }
            PairEncoder.Skipped first = firstOf.get(reason);
            String fix = fix(reason);
            parts.add(pairs + " (row " + first.example().sourceRow() + ": " + first.detail()
                    + (fix.isEmpty() ? "" : "; " + fix) + ")");
        });
        return String.join("; ", parts);
    }

    /** The reasons counted. */
    Set<String> reasons() {
        return counts.keySet();
    }

    /** The settings (or data) to change so that pairs skipped for {@code reason} can be used; empty when none applies. */
    static String fix(String reason) {
        return switch (reason) {
            case PairEncoder.PROMPT_TOO_LONG -> "raise max_prompt_length and max_length above the prompt's length, or "
                    + "lower image_longest_edge for fewer image tokens per image";
            case PairEncoder.IDENTICAL_AFTER_TRUNCATION -> "raise max_length so that the answers keep the tokens where they differ";
            case SkipReport.MISSING_IMAGE, SkipReport.UNDECODABLE_IMAGE -> "fix or remove these rows' images";
            case SkipReport.IMAGE_TOO_LARGE -> "downscale these images";
            default -> "";
        };
    }
}
