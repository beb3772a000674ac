package dev.smoldpo.train.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
    @TempDir
    Path out;

    static Map<String, Object> train(double loss, double acc, double margin) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(MetricsLog.LOSS, loss);
        m.put(MetricsLog.REWARDS_CHOSEN, 0.01);
        m.put(MetricsLog.REWARDS_REJECTED, -0.02);
        m.put(MetricsLog.REWARDS_ACCURACIES, acc);
        m.put(MetricsLog.REWARDS_MARGINS, margin);
        m.put(MetricsLog.LOGPS_CHOSEN, -120.5);
        m.put(MetricsLog.LOGPS_REJECTED, -130.25);
        m.put(MetricsLog.LOGITS_CHOSEN, -1.5);
        m.put(MetricsLog.LOGITS_REJECTED, -1.75);
        m.put(MetricsLog.LEARNING_RATE, 1e-4);
        m.put(MetricsLog.GRAD_NORM, 0.75);
        m.put(MetricsLog.PAIRS_PER_SECOND, 0.09);
        m.put(MetricsLog.TOKENS_PER_SECOND, 45.5);
        m.put(MetricsLog.SKIPPED_NONFINITE_STEPS, 0L);
        return m;
    }

    @Test
    void writesOneFlushedObjectPerLineAndReadsItBack() throws IOException {
        try (MetricsLog log = MetricsLog.open(out)) {
            log.log(10, 0.25, train(0.69, 0.5, 0.01));
            // flushed: visible before close
            List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
            assertEquals(1, lines.size());
            assertTrue(lines.get(0).startsWith("{\"step\":10,\"epoch\":0.25,\"loss\":0.69,\"rewards/chosen\":0.01"),
                    lines.get(0));
            log.log(10, 0.25, Map.of(MetricsLog.eval(MetricsLog.LOSS), 0.68,
                    MetricsLog.eval(MetricsLog.REWARDS_ACCURACIES), 0.625));
            log.log(20, 0.5, Map.of(MetricsLog.LOSS, Double.NaN, "note", "skipped", "flag", true,
                    "inf", Double.NEGATIVE_INFINITY));
        }
        List<MetricsLog.Record> records = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertEquals(3, records.size());
        MetricsLog.Record r = records.get(0);
        assertEquals(10, r.step());
        assertEquals(0.25, r.epoch().orElseThrow());
        assertEquals(train(0.69, 0.5, 0.01).keySet(), withoutStepEpoch(r).keySet());
        assertEquals(0.69, r.get("loss").orElseThrow());
        assertEquals(-130.25, r.get("logps/rejected").orElseThrow());
        assertEquals(0L, r.values().get(MetricsLog.SKIPPED_NONFINITE_STEPS));
        assertFalse(r.isEval());
        assertTrue(records.get(1).isEval());
        assertEquals(0.625, records.get(1).get("eval_rewards/accuracies").orElseThrow());
        assertTrue(Double.isNaN(records.get(2).get("loss").orElseThrow()));
        assertEquals(Double.NEGATIVE_INFINITY, records.get(2).get("inf").orElseThrow());
        assertEquals("skipped", records.get(2).values().get("note"));
        assertEquals(true, records.get(2).values().get("flag"));
        assertFalse(records.get(2).get("note").isPresent());
    }

    private static Map<String, Object> withoutStepEpoch(MetricsLog.Record r) {
        Map<String, Object> m = new LinkedHashMap<>(r.values());
        m.remove("step");
        m.remove("epoch");
        return m;
    }

    @Test
    void appendsAcrossOpens() throws IOException {
        try (MetricsLog log = MetricsLog.open(out)) {
            log.log(1, 0.1, Map.of("loss", 0.7));
        }
        try (MetricsLog log = MetricsLog.open(out)) {
            log.log(2, 0.2, Map.of("loss", 0.6));
        }
        assertEquals(2, MetricsLog.read(out.resolve(MetricsLog.FILE_NAME)).size());
    }

    @Test
    void resumeDropsRecordsAfterTheCheckpoint() throws IOException {
        try (MetricsLog log = MetricsLog.open(out)) {
            for (int step = 1; step <= 6; step++) {
                log.log(step, step / 6.0, Map.of("loss", 1.0 / step));
            }
        }
        try (MetricsLog log = MetricsLog.openForResume(out, 4)) {
            log.log(5, 5 / 6.0, Map.of("loss", 0.19));
        }
        List<MetricsLog.Record> records = MetricsLog.read(out.resolve(MetricsLog.FILE_NAME));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), records.stream().map(MetricsLog.Record::step).toList());
        assertEquals(0.19, records.get(4).get("loss").orElseThrow());
    }

    @Test
    void toleratesATruncatedLastLineOnly() throws IOException {
        Path file = out.resolve(MetricsLog.FILE_NAME);
        Files.writeString(file, "{\"step\":1,\"loss\":0.7}\n{\"step\":2,\"lo");
        assertEquals(1, MetricsLog.read(file).size());
        Files.writeString(file, "{\"step\":1,\"loss\":0.7}\n{\"step\":2,\"lo\n{\"step\":3}\n");
        IOException e = assertThrows(IOException.class, () -> MetricsLog.read(file));
        assertTrue(e.getMessage().contains("metrics.jsonl:2"), e.getMessage());
        Files.writeString(file, "[1]\n{\"step\":3}\n");
        assertThrows(IOException.class, () -> MetricsLog.read(file));
        Files.writeString(file, "\n", StandardOpenOption.TRUNCATE_EXISTING);
        assertEquals(0, MetricsLog.read(file).size());
    }
}
