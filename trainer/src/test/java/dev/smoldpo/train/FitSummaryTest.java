package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The lines fit prints at the end: rounded figures, one topic a line. */
class FitSummaryTest {
    @Test
    void printsRoundedFiguresOnShortLines() {
        Map<String, Double> sections = new LinkedHashMap<>();
        sections.put("data", 0.05054563199999999);
        sections.put("reference", 0.00350215);
        sections.put("train_step", 0.061322827999999996);
        sections.put("optimizer_step", 4.21521E-4);
        Map<String, Object> skipped = new LinkedHashMap<>();
        skipped.put("total", 5L);
        skipped.put("counts", Map.of("bad_json", 1L));
        skipped.put("examples", Map.of("bad_json", List.of(24L)));
        skipped.put("nonfinite_steps", 0L);
        skipped.put("empty_steps", 1L);
        FitSummary s = new FitSummary(3, "completed", null, Map.of("eval_rewards/accuracies", 1.0, "eval_loss", 0.59791234,
                "eval_rewards/margins", 0.20071), skipped, 7, 20, 0, 0.11512345678, sections, 12, 1190, Path.of("runs/x"),
                Map.of("per_optimizer_step", 3_300_000L, "train_step", Map.of("calls", 6L, "input_bytes_per_call", 1_650_123L,
                        "output_bytes_per_call", 36L)));
        List<String> lines = s.lines(3.9712345);
        assertEquals("done (completed): 3 steps in 0.1 s, 104 pairs/s, 10,337 tokens/s; peak RSS 3.97 GiB", lines.get(0));
        assertEquals("  time by section: data 0.1 s, reference 0.0 s, train step 0.1 s, optimizer step 0.0 s", lines.get(1));
        assertEquals("  host<->device per trainStep: 1.57 MiB fed, 36 B fetched; per optimizer step 3.15 MiB", lines.get(2));
        assertTrue(lines.get(4).startsWith("  skipped pairs: 5 {bad_json=1}; skipped steps: non-finite 0, empty 1"), lines.get(4));
        assertEquals("eval after training:  rewards/accuracies 1.000, loss 0.5979, margins 0.2007", lines.get(5));
        for (String line : lines) {
            assertTrue(line.length() <= 160, line);
            assertTrue(!line.matches(".*\\d\\.\\d{6,}.*"), "no raw doubles: " + line);
        }
    }
}
