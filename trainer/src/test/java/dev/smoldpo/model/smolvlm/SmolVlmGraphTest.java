package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.TensorData;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SmolVLM LoRA DPO graphs on the demo model: layouts, reference graph, loss. */
class SmolVlmGraphTest {
    @TempDir
    static Path root;
    static DemoFixture demo;
    static SmolVlmDpoModel model;

    @BeforeAll
    static void export() throws Exception {
        demo = new DemoFixture(root, DemoFixture.options(0.0));
        model = new SmolVlmDpoModel(demo.config, null, demo.options.lora(), demo.options.dpo(), demo.options.seed());
    }

    private static Map<String, TensorData> inputs(DpoLayout layout, Map<String, TensorData> lora) {
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(demo.config).collate(demo.pairs(11), layout));
        in.putAll(DemoFixture.dpoInputs(2, 0.1f, new float[] {-20f, -25f}, new float[] {-22f, -21f}));
        in.putAll(lora);
        return in;
    }

    @Test
    void sharedPrefixAndConcatenatedLayoutsGiveTheSameLogProbsAndLoss() throws Exception {
        Map<String, TensorData> lora = demo.loraWithRandomB(model, 5);
        try (OrtSession eval = DemoFixture.session(demo.files.eval())) {
            Map<String, float[]> shared = DemoFixture.run(eval, inputs(DpoLayout.SHARED_PREFIX, lora));
            Map<String, float[]> concat = DemoFixture.run(eval, inputs(DpoLayout.CONCATENATED, lora));
            for (String out : List.of("chosen_logps", "rejected_logps", "loss", "chosen_logits_sum", "rejected_logits_sum")) {
                float[] a = shared.get(out);
                float[] b = concat.get(out);
                assertEquals(a.length, b.length, out);
                for (int i = 0; i < a.length; i++) {
                    assertTrue(Float.isFinite(a[i]), out + " finite");
                    assertEquals(b[i], a[i], 1e-5 * Math.max(1, Math.abs(b[i])), out + "[" + i + "]");
                }
            }
            System.out.printf("demo logps: chosen %s rejected %s loss %s%n", java.util.Arrays.toString(shared.get("chosen_logps")),
                    java.util.Arrays.toString(shared.get("rejected_logps")), shared.get("loss")[0]);
        }
    }

    @Test
    void allPaddingTilesAreDropped() throws Exception {
        Map<String, TensorData> lora = demo.loraWithRandomB(model, 5);
        List<DpoCollator.Pair> pairs = demo.pairs(11);
        DpoCollator.Pair withImage = pairs.get(1);
        int per = 3 * demo.config.vision().imageSize() * demo.config.vision().imageSize();
        float[] padded = java.util.Arrays.copyOf(withImage.image().pixels(), withImage.image().pixels().length + per);
        DpoCollator.Pair paddedPair = new DpoCollator.Pair(withImage.prompt(), withImage.chosen(), withImage.rejected(),
                new DpoCollator.Tiles(withImage.image().count() + 1, padded, null));
        Map<String, TensorData> plain = new HashMap<>(new DpoCollator(demo.config).collate(List.of(withImage), DpoLayout.SHARED_PREFIX));
        Map<String, TensorData> withPadding = new HashMap<>(new DpoCollator(demo.config).collate(List.of(paddedPair), DpoLayout.SHARED_PREFIX));
        assertEquals(plain.get("pixel_values").dims()[0], withPadding.get("pixel_values").dims()[0], "the zero tile is dropped");
        for (Map<String, TensorData> in : List.of(plain, withPadding)) {
            in.putAll(DemoFixture.dpoInputs(1, 0.1f, new float[] {-20f}, new float[] {-22f}));
            in.putAll(lora);
        }
        try (OrtSession eval = DemoFixture.session(demo.files.eval())) {
            assertEquals(DemoFixture.run(eval, plain).get("chosen_logps")[0], DemoFixture.run(eval, withPadding).get("chosen_logps")[0]);
        }
    }

    @Test
    void theReferenceGraphOutputsImageFeaturesOnlyWhenTheVisionTowerIsFrozen() throws Exception {
        var withVisionAdapters = dev.smoldpo.onnx.ModelSummary.read(demo.files.dir().resolve(SmolVlmExporter.REFERENCE));
        assertTrue(!withVisionAdapters.outputNames().contains("image_features"));
        var textOnly = SmolVlmExporter.export(demo.modelDir, root.resolve("text-only"), new SmolVlmExporter.Options("text",
                new dev.smoldpo.model.lora.LoraConfig(4, 8, 0, dev.smoldpo.model.lora.LoraConfig.DEFAULT_TARGETS, true),
                DpoConfig.DEFAULT, dev.smoldpo.artifacts.AdamWConfig.DEFAULT, 3));
        var reference = dev.smoldpo.onnx.ModelSummary.read(textOnly.dir().resolve(SmolVlmExporter.REFERENCE));
        assertEquals(List.of("chosen_logps", "rejected_logps", "image_features"), reference.outputNames());
        var training = dev.smoldpo.onnx.ModelSummary.read(textOnly.training());
        assertTrue(training.inputNames().stream().filter(n -> n.endsWith("_grad.accumulation.buffer"))
                .allMatch(n -> n.startsWith("model.text_model.")), "text-only adapters");
    }

    @Test
    void referenceGraphEqualsTheEvalGraphWhenEveryBIsZero() throws Exception {
        Map<String, TensorData> lora = demo.initialLora(model);
        try (OrtSession eval = DemoFixture.session(demo.files.eval());
             OrtSession reference = DemoFixture.session(demo.files.dir().resolve(SmolVlmExporter.REFERENCE))) {
            for (DpoLayout layout : DpoLayout.values()) {
                Map<String, float[]> e = DemoFixture.run(eval, inputs(layout, lora));
                Map<String, float[]> r = DemoFixture.run(reference, inputs(layout, Map.of()));
                for (String out : List.of("chosen_logps", "rejected_logps")) {
                    for (int i = 0; i < 2; i++) {
                        assertEquals(e.get(out)[i], r.get(out)[i], 1e-5 * Math.abs(e.get(out)[i]), layout + " " + out);
                    }
                }
            }
        }
    }
}
