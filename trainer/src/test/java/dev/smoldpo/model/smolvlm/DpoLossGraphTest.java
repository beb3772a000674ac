package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.DpoLoss;
import dev.smoldpo.nativelib.LossType;
import dev.smoldpo.onnx.TensorData;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loss inside the graph against the native fused DPO kernel (an independent C
 * implementation), for every loss type, with and without a reference, from the same log-probs.
 */
class DpoLossGraphTest {
    @TempDir
    Path root;

    @ParameterizedTest
    @CsvSource({"SIGMOID,0.0,false", "SIGMOID,0.1,false", "SIGMOID,0.0,true", "ROBUST,0.1,false", "HINGE,0.0,false",
            "HINGE,0.0,true", "IPO,0.0,false", "IPO,0.0,true", "APO_ZERO,0.0,false"})
    void graphLossEqualsTheNativeKernel(String type, double smoothing, boolean referenceFree) throws Exception {
        DpoConfig dpo = new DpoConfig(DpoLossType.valueOf(type), smoothing, referenceFree);
        DemoFixture demo = new DemoFixture(root, new SmolVlmExporter.Options("demo",
                new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false), dpo, AdamWConfig.DEFAULT, 3));
        SmolVlmDpoModel model = new SmolVlmDpoModel(demo.config, null, demo.options.lora(), dpo, 3);
        List<DpoCollator.Pair> pairs = demo.pairs(31);
        float[] refChosen = {-25f, -31f};
        float[] refRejected = {-27f, -20f};
        int[] chosenLengths = pairs.stream().mapToInt(p -> p.chosen().length).toArray();
        int[] rejectedLengths = pairs.stream().mapToInt(p -> p.rejected().length).toArray();
        try (OrtSession eval = DemoFixture.session(demo.files.eval())) {
            for (float beta : new float[] {0.1f, 2.0f, 500f}) {
                Map<String, TensorData> in = new HashMap<>(new DpoCollator(demo.config).collate(pairs, DpoLayout.SHARED_PREFIX));
                in.putAll(DemoFixture.dpoInputs(2, beta, refChosen, refRejected));
                in.putAll(demo.loraWithRandomB(model, 8));
                Map<String, float[]> out = DemoFixture.run(eval, in);
                DpoLoss kernel = new DpoLoss(LossType.valueOf(type), beta, smoothing, referenceFree, Device.CPU);
                double expected = kernel.compute(out.get("chosen_logps"), out.get("rejected_logps"),
                        referenceFree ? null : refChosen, referenceFree ? null : refRejected, chosenLengths, rejectedLengths).loss();
                float graph = out.get("loss")[0];
                assertTrue(Float.isFinite(graph), type + " beta " + beta + ": finite loss");
                // float32 graph vs double kernel on the same float32 log-probs
                assertEquals(expected, graph, 1e-5 * Math.max(1, Math.abs(expected)), type + " beta " + beta);
            }
        }
    }
}
