package dev.smoldpo.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(20)
class ProgressMetersTest {
    static final long MIB = 1 << 20;

    static PrintStream printer(ByteArrayOutputStream bytes) {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }

    @Test
    void bytesAreShownInTheUnitThatSuitsEachAmount() {
        assertEquals("812 B", ProgressUnit.bytes(812));
        assertEquals("2.0 KiB", ProgressUnit.bytes(2048));
        assertEquals("488.3 MiB", ProgressUnit.bytes(512_000_000));
        assertEquals("1.5 GiB", ProgressUnit.bytes(3 * 512 * MIB));
    }

    @Test
    void plainByteLinesShowSizesThisSessionsRateAndEta() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        // a resumed download: 100 MiB were on disk already, 300 MiB come in this session
        ProgressMeter m = ProgressMeters.plain("model.safetensors", 400 * MIB, 100 * MIB, printer(bytes),
                ProgressUnit.BYTES, Duration.ofSeconds(30), now::get);
        now.set(Duration.ofSeconds(10).toNanos());
        m.update(130 * MIB, ""); // too soon: not printed
        now.set(Duration.ofSeconds(30).toNanos());
        m.update(160 * MIB, ""); // 60 MiB in 30 s: 2 MiB/s, 240 MiB left: 2 minutes
        now.set(Duration.ofSeconds(170).toNanos());
        m.update(400 * MIB, "");
        m.close();
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(2, lines.length, String.join("\n", lines));
        assertEquals("model.safetensors: 160.0 MiB / 400.0 MiB (40.0%) elapsed 0:00:30 eta 0:02:00 | 2.0 MiB/s", lines[0]);
        assertEquals("model.safetensors: 400.0 MiB / 400.0 MiB (100.0%) elapsed 0:02:50 | 1.8 MiB/s", lines[1]);
    }

    @Test
    void plainLinesOfAnUnknownSizeAreOnlyPeriodic() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        ProgressMeter m = ProgressMeters.plain("data.parquet", -1, 0, printer(bytes), ProgressUnit.BYTES,
                Duration.ofSeconds(30), now::get);
        now.set(Duration.ofSeconds(1).toNanos());
        m.update(MIB, ""); // no total, so no "last" update to print at once
        now.set(Duration.ofSeconds(40).toNanos());
        m.update(40 * MIB, "");
        assertEquals("data.parquet: 40.0 MiB elapsed 0:00:40 | 1.0 MiB/s\n", bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void noRateIsShownForAFileThatTookUnder50Ms() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        ProgressMeter m = ProgressMeters.plain("config.json", 1000, 0, printer(bytes), ProgressUnit.BYTES,
                Duration.ofSeconds(30), now::get);
        now.set(Duration.ofMillis(10).toNanos());
        m.update(1000, "");
        assertEquals("config.json: 1000 B / 1000 B (100.0%) elapsed 0:00:00\n", bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aByteBarShowsSizesPercentAndRate() throws InterruptedException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ProgressMeter m = ProgressMeters.bar("weights.bin", 4 * MIB, MIB, printer(bytes), ProgressUnit.BYTES)) {
            m.update(2 * MIB, "");
            Thread.sleep(100); // a rate needs some elapsed time
            m.update(4 * MIB, "");
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        String last = out.substring(out.lastIndexOf('\r') + 1);
        assertTrue(last.startsWith("  weights.bin  4.0 MiB / 4.0 MiB  100%  │"), out);
        assertTrue(last.matches("(?s).*│ [0-9.]+ (KiB|MiB|GiB)/s\n"), out);
    }

    @Test
    void aBarClosedBeforeItsFirstRedrawStillEndsItsLine() throws Exception {
        // hold the library's single redraw thread, so that the bar below is closed before its first redraw
        CountDownLatch busy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ProgressBar blocker = new ProgressBarBuilder().setInitialMax(1).setConsumer(new ProgressBarConsumer() {
            @Override
            public int getMaxRenderedLength() {
                return 80;
            }

            @Override
            public void accept(String rendered) {
                busy.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void close() {}
        }).build();
        assertTrue(busy.await(10, TimeUnit.SECONDS));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressMeter m = ProgressMeters.bar("config.json", 26, 0, printer(bytes), ProgressUnit.BYTES);
        m.update(26, "");
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            release.countDown();
        });
        releaser.start();
        m.close(); // waits for the redraw thread
        releaser.join();
        blocker.close();
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.startsWith("\r  config.json  26 B / 26 B  100%"), out);
        assertTrue(out.endsWith("\n") && out.indexOf('\n') == out.length() - 1, out);
    }

    @Test
    void theSystemPropertyForcesTheVariantForEveryUnit() {
        String before = System.getProperty(ProgressMeters.MODE_PROPERTY);
        try {
            System.setProperty(ProgressMeters.MODE_PROPERTY, "none");
            assertEquals(ProgressMeters.Mode.NONE, ProgressMeters.mode());
            assertSame(ProgressMeter.NONE, ProgressMeters.console("f", 10, 0, System.out, ProgressUnit.BYTES));
            System.setProperty(ProgressMeters.MODE_PROPERTY, "bar");
            assertEquals(ProgressMeters.Mode.BAR, ProgressMeters.mode());
            System.setProperty(ProgressMeters.MODE_PROPERTY, "PLAIN");
            assertEquals(ProgressMeters.Mode.PLAIN, ProgressMeters.mode());
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ProgressMeter m = ProgressMeters.console("f", 2048, 0, printer(bytes), ProgressUnit.BYTES)) {
                m.update(2048, "");
            }
            assertTrue(bytes.toString(StandardCharsets.UTF_8).startsWith("f: 2.0 KiB / 2.0 KiB (100.0%) elapsed 0:00:00"),
                    bytes.toString(StandardCharsets.UTF_8));
        } finally {
            if (before == null) {
                System.clearProperty(ProgressMeters.MODE_PROPERTY);
            } else {
                System.setProperty(ProgressMeters.MODE_PROPERTY, before);
            }
        }
    }
}
