package dev.smoldpo.train.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressTest {
    @Test
    void plainPrintsPeriodicLinesWithEta() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        AtomicLong now = new AtomicLong(1_000_000_000L);
        long second = 1_000_000_000L;
        try (Progress p = Progress.plain("fit", 100, 0, out, Duration.ofSeconds(30), now::get)) {
            now.addAndGet(10 * second);
            p.update(1, "ignored: less than 30 s"); // not printed
            now.addAndGet(20 * second);
            p.update(10, Progress.extra(0.6931, 0.0912, 45.1)); // 30 s for 10 steps
            now.addAndGet(5 * second);
            p.update(11, "too soon");
            p.message("eval: loss 0.68");
            now.addAndGet(300 * second);
            p.update(100, "done");
        }
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(3, lines.length, String.join("\n", lines));
        assertEquals("fit: step 10/100 (10.0%) elapsed 0:00:30 eta 0:04:30 | loss 0.6931 | 0.0912 pairs/s | 45.1 tok/s",
                lines[0]);
        assertEquals("eval: loss 0.68", lines[1]);
        assertEquals("fit: step 100/100 (100.0%) elapsed 0:05:35 | done", lines[2]);
    }

    @Test
    void plainEtaCountsOnlyThisSessionOfAResumedRun() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        AtomicLong now = new AtomicLong();
        Progress p = Progress.plain("fit", 1000, 500, out, Duration.ZERO, now::get);
        now.set(Duration.ofMinutes(1).toNanos());
        p.update(510, "");
        assertEquals("fit: step 510/1000 (51.0%) elapsed 0:01:00 eta 0:49:00\n", bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void noneAndBarDoNotFail() {
        Progress.NONE.update(5, "x");
        Progress.NONE.message("x");
        Progress.NONE.close();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (Progress p = Progress.bar("fit", 10, 2, out)) {
            p.update(5, Progress.extra(0.5, 1, 100));
            p.message("hello");
            p.update(10, "end");
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("fit"), text);
        assertTrue(text.contains("hello"), text);
        assertEquals("0:01:05", Progress.formatDuration(Duration.ofSeconds(65)));
        assertEquals("26:00:00", Progress.formatDuration(Duration.ofHours(26)));
    }
}
