package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.nativelib.Device;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --device cuda reaches the reference session's options: without ORT's CUDA provider its first
 * forward pass fails with SessionSettings' CUDA message (with it, it gives the CPU's log-probs).
 */
class ReferenceScorerDeviceTest {
    @TempDir
    static Path root;
    static Path artifacts;
    static List<PairEncoder.Encoded> pairs = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        Path data = DemoDataset.write(root.resolve("demo.parquet"), 4, 3, false);
        try (PreferenceDataset ds = PreferenceDataset.open(data);
             PairEncoder enc = new PairEncoder(artifacts, ModelConfig.load(artifacts), new PairEncoder.Settings(256, 128, false, 0),
                     Device.CPU)) {
            for (PairEncoder.Outcome o : enc.encode(ds.get(new int[] {0, 1}))) {
                pairs.add((PairEncoder.Encoded) o);
            }
        }
    }

    private static ReferenceScorer scorer(String cache, boolean cuda) throws Exception {
        return new ReferenceScorer(artifacts.resolve(SmolVlmExporter.REFERENCE),
                new ReferenceCache(root.resolve(cache + ".duckdb"), "test"), ModelConfig.load(artifacts),
                DpoLayout.SHARED_PREFIX, 1, cuda);
    }

    @Test
    void theCudaFlagReachesTheReferenceSession() throws Exception {
        List<ReferenceCache.Logps> cpu;
        try (ReferenceScorer s = scorer("cpu", false)) {
            cpu = s.score(pairs, 2);
            assertEquals(1, s.forwardPasses());
        }
        try (ReferenceScorer s = scorer("cuda", true)) {
            if (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
                List<ReferenceCache.Logps> gpu = s.score(pairs, 2);
                for (int i = 0; i < cpu.size(); i++) {
                    assertEquals(cpu.get(i).chosen(), gpu.get(i).chosen(), 1e-3 * Math.abs(cpu.get(i).chosen()));
                }
            } else {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.score(pairs, 2));
                assertTrue(e.getMessage().startsWith("--device cuda: ONNX Runtime's CUDA execution provider is not available"),
                        e.getMessage());
                assertEquals(0, s.forwardPasses());
            }
        }
    }
}
