package dev.smoldpo.hf.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.progress.ProgressMeter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(20)
class HubProgressTest {
    static final String REPO = "HuggingFaceTB/SmolVLM-256M-Instruct";
    static final String SHA = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path cache;

    /** A meter that writes down what it was told, to check which meters a download opens. */
    static final class Recorded implements ProgressMeter {
        final String file;
        final long total;
        final long initial;
        final List<Long> updates = new ArrayList<>();
        boolean closed;

        Recorded(String file, long total, long initial) {
            this.file = file;
            this.total = total;
            this.initial = initial;
        }

        @Override
        public void update(long current, String extra) {
            updates.add(current);
        }

        @Override
        public void message(String line) {}

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void aDownloadPrintsOneLineWithByteSizesPerFileWhenNotInteractive() throws IOException {
        byte[] weights = new byte[300_000];
        new Random(3).nextBytes(weights);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (FakeHub hub = new FakeHub()) {
            hub.add(new FakeHub.Repo(REPO, SHA).file("config.json", "{}".getBytes(StandardCharsets.UTF_8))
                    .lfsFile("model.safetensors", weights));
            try (HubDownloader d = HubDownloader.builder(cache).env(Map.of()).endpoint(hub.hubUrl())
                    .readTimeout(Duration.ofSeconds(3))
                    .progress(HubProgress.console(new PrintStream(bytes, true, StandardCharsets.UTF_8), false)).build()) {
                d.download(REPO);
            }
        }
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, lines.size(), lines.toString());
        // a rate is shown once the file took 50 ms or more, which a loopback transfer may not
        assertTrue(lines.get(0).matches("config\\.json: 2 B / 2 B \\(100\\.0%\\) elapsed 0:00:00( \\| .+/s)?"), lines.toString());
        assertTrue(lines.get(1).matches("model\\.safetensors: 293\\.0 KiB / 293\\.0 KiB \\(100\\.0%\\) elapsed 0:00:00"
                + "( \\| [0-9.]+ (B|KiB|MiB|GiB)/s)?"), lines.toString());
    }

    @Test
    void aResumedDownloadOpensOneMeterCountingFromTheBytesOnDisk() throws IOException {
        byte[] weights = new byte[300_000];
        new Random(5).nextBytes(weights);
        List<Recorded> meters = new ArrayList<>();
        Path dir = cache.resolve("models--HuggingFaceTB--SmolVLM-256M-Instruct/snapshots").resolve(SHA);
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.safetensors.incomplete"), Arrays.copyOf(weights, 100_000));
        try (FakeHub hub = new FakeHub()) {
            hub.add(new FakeHub.Repo(REPO, SHA).file("config.json", "{}".getBytes(StandardCharsets.UTF_8))
                    .lfsFile("model.safetensors", weights));
            HubProgress progress = new PerFileMeters((file, total, initial) -> {
                Recorded r = new Recorded(file, total, initial);
                meters.add(r);
                return r;
            });
            try (HubDownloader d = HubDownloader.builder(cache).env(Map.of()).endpoint(hub.hubUrl())
                    .progress(progress).build()) {
                d.download(REPO);
                d.download(REPO); // everything present: one finished update per file
            }
        }
        assertEquals(List.of("config.json", "model.safetensors", "config.json", "model.safetensors"),
                meters.stream().map(m -> m.file).toList());
        Recorded resumed = meters.get(1);
        assertEquals(300_000, resumed.total);
        assertEquals(100_000, resumed.initial, "rate and ETA count only this session's bytes");
        assertEquals(300_000L, resumed.updates.getLast());
        assertTrue(meters.stream().allMatch(m -> m.closed), "every file's meter is closed when the file is done");
        Recorded present = meters.get(3);
        assertEquals(List.of(300_000L), present.updates);
        assertEquals(300_000, present.initial);
    }

    @Test
    void aNewSizeOpensAFreshMeterAndTheRepeatedFinishIsShownOnce() {
        List<Recorded> meters = new ArrayList<>();
        PerFileMeters progress = new PerFileMeters((file, total, initial) -> {
            Recorded r = new Recorded(file, total, initial);
            meters.add(r);
            return r;
        });
        progress.update("a.bin", 10, -1); // the first answer did not say the size
        progress.update("a.bin", 20, -1);
        progress.update("a.bin", 0, 50); // a retry that did
        progress.update("a.bin", 50, 50);
        assertEquals(2, meters.size());
        assertTrue(meters.get(0).closed);
        assertEquals(List.of(10L, 20L), meters.get(0).updates);
        assertEquals(50, meters.get(1).total);
        assertEquals(List.of(0L, 50L), meters.get(1).updates);
        assertTrue(meters.get(1).closed);

        progress.update("a.bin", 50, 50); // the report after the checks: already shown
        assertEquals(2, meters.size());
        progress.update("a.bin", 50, 50); // a later download finding the file in place: shown again
        assertEquals(3, meters.size());
    }
}
