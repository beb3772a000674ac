package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.runtime.cuda.CudaUnavailableException;
import dev.smoldpo.testing.Captured;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench-export's train-step timing at several pair counts, the figures the GPU check reads (tools/gpu-check.sh). */
class BenchExportStepsTest {
    private static final Pattern LINE = Pattern.compile(
            "\\[demo-artifacts] shared_prefix +cpu session [0-9.]+ s; train step \\((\\d+) pairs, (\\d+) token slots\\): "
                    + "first step [0-9.]+ s, median [0-9.]+ s -> [0-9.]+ pairs/s");

    @TempDir
    static Path dir;
    static Path artifacts;

    @BeforeAll
    static void exportDemo() {
        artifacts = dir.resolve("demo-artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
    }

    @Test
    void oneTimingPerPairCountWithTheBatchInTheGraph() throws Exception {
        Captured run = Captured.run(() -> Main.run("bench-export", "--artifacts", artifacts.toString(), "--pairs", "1,3",
                "--layouts", "shared_prefix", "--steps", "1", "--threads", "1"));
        assertEquals(0, run.code(), run.err());
        Matcher m = LINE.matcher(run.out());
        assertTrue(m.find(), run.out());
        assertEquals("1", m.group(1));
        long oneRow = Long.parseLong(m.group(2));
        assertTrue(m.find(), run.out());
        assertEquals("3", m.group(1));
        assertEquals(3 * oneRow, Long.parseLong(m.group(2)), "three pairs feed three rows of the same length");
    }

    @Test
    void cudaWithoutCudaAndAnUnknownDeviceFailClearly() throws Exception {
        Captured cuda = Captured.run(() -> Main.run("bench-export", "--artifacts", artifacts.toString(), "--device", "cuda",
                "--steps", "1"));
        if (cuda.code() == 0) { // a -Port-gpu build on a machine with CUDA
            assertTrue(cuda.out().contains(" cuda session "), cuda.out());
        } else {
            assertEquals(1, cuda.code());
            assertTrue(cuda.err().contains(CudaUnavailableException.PREFIX), cuda.err());
        }
        Captured tpu = Captured.run(() -> Main.run("bench-export", "--artifacts", artifacts.toString(), "--device", "tpu"));
        assertEquals(1, tpu.code());
        assertTrue(tpu.err().contains("--device must be cpu or cuda, not 'tpu'"), tpu.err());
    }
}
