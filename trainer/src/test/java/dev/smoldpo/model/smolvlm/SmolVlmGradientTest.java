package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.TensorData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradients of every LoRA tensor (vision and text adapters) of a tiny SmolVLM, from our autodiff,
 * against central finite differences of the exported eval graph; and the same gradients from both
 * layouts.
 */
class SmolVlmGradientTest {
    @TempDir
    static Path root;
    static DemoFixture demo;
    static SafetensorsFile weights;
    static SmolVlmDpoModel model;
    static Path gradientModel;

    @BeforeAll
    static void setUp() throws Exception {
        demo = new DemoFixture(root, DemoFixture.options(0.0));
        weights = SafetensorsFile.open(demo.modelDir.resolve("model.safetensors"));
        model = new SmolVlmDpoModel(demo.config, new FrozenWeights(weights), demo.options.lora(), demo.options.dpo(),
                demo.options.seed());
        Path dir = Files.createDirectories(root.resolve("gradients"));
        gradientModel = dir.resolve("gradients.onnx");
        try (SharedWeights shared = new SharedWeights(dir.resolve("weights.onnx.data"))) {
            ModelWriter.write(ArtifactBuilder.gradientGraph(model), gradientModel, shared);
        }
    }

    @AfterAll
    static void close() {
        weights.close();
    }

    private static Map<String, TensorData> inputs(DpoLayout layout, Map<String, TensorData> lora) {
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(demo.config).collate(demo.pairs(11), layout));
        // β = 1 and references that leave the pairs mis-ranked make the gradients large and clear of noise
        in.putAll(DemoFixture.dpoInputs(2, 1.0f, new float[] {-20f, -21f}, new float[] {-40f, -45f}));
        in.putAll(lora);
        return in;
    }

    @Test
    void everyLoraGradientMatchesFiniteDifferencesOfTheEvalGraph() throws Exception {
        Map<String, TensorData> lora = demo.loraWithRandomB(model, 5);
        Map<String, float[]> grads;
        try (OrtSession g = DemoFixture.session(gradientModel)) {
            grads = DemoFixture.run(g, inputs(DpoLayout.SHARED_PREFIX, lora));
        }
        SplittableRandom pick = new SplittableRandom(17);
        int checked = 0;
        double worst = 0;
        // float32 forward: central differences with h = 1e-2 have O(h^2) truncation and ~1e-6/h
        // round-off, both far below the 3% + 2e-4 allowed here
        double h = 1e-2;
        try (OrtSession eval = DemoFixture.session(demo.files.eval())) {
            for (Map.Entry<String, TensorData> p : lora.entrySet()) {
                float[] analytic = grads.get("grad:" + p.getKey());
                assertEquals(p.getValue().elementCount(), analytic.length, p.getKey());
                for (int s = 0; s < 3; s++) {
                    int i = pick.nextInt(analytic.length);
                    double plus = loss(eval, lora, p.getKey(), i, h);
                    double minus = loss(eval, lora, p.getKey(), i, -h);
                    double numeric = (plus - minus) / (2 * h);
                    double err = Math.abs(numeric - analytic[i]);
                    worst = Math.max(worst, err / (Math.abs(numeric) + 1e-3));
                    assertTrue(err <= 3e-2 * Math.abs(numeric) + 2e-4,
                            p.getKey() + "[" + i + "]: analytic " + analytic[i] + " vs numeric " + numeric);
                    checked++;
                }
            }
        }
        System.out.printf("checked %d LoRA gradient entries over %d tensors, worst relative error %.2e%n",
                checked, lora.size(), worst);
        assertTrue(lora.keySet().stream().anyMatch(n -> n.contains("vision_model")), "vision adapters are checked");
    }

    private static double loss(OrtSession eval, Map<String, TensorData> lora, String name, int index, double h)
            throws Exception {
        Map<String, TensorData> perturbed = new HashMap<>(lora);
        float[] v = lora.get(name).toFloatArray();
        v[index] += (float) h;
        perturbed.put(name, TensorData.floats(lora.get(name).dims(), v));
        return DemoFixture.run(eval, inputs(DpoLayout.SHARED_PREFIX, perturbed)).get("loss")[0];
    }

    @Test
    void bothLayoutsGiveTheSameGradients() throws Exception {
        Map<String, TensorData> lora = demo.loraWithRandomB(model, 6);
        try (OrtSession g = DemoFixture.session(gradientModel)) {
            Map<String, float[]> shared = DemoFixture.run(g, inputs(DpoLayout.SHARED_PREFIX, lora));
            Map<String, float[]> concat = DemoFixture.run(g, inputs(DpoLayout.CONCATENATED, lora));
            for (String name : lora.keySet()) {
                float[] a = shared.get("grad:" + name);
                float[] b = concat.get("grad:" + name);
                double scale = 0;
                for (float x : b) {
                    scale = Math.max(scale, Math.abs(x));
                }
                for (int i = 0; i < a.length; i++) {
                    assertEquals(b[i], a[i], 1e-5 * scale + 1e-7, name + "[" + i + "]");
                }
            }
        }
    }
}
