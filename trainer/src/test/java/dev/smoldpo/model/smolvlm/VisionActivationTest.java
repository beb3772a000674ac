package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.onnx.TensorData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vision_config.hidden_act picks the vision MLP's activation; an unsupported one fails the export, named. */
class VisionActivationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    private Path demoWithActivation(String name, String act) throws Exception {
        Path dir = root.resolve(name);
        DemoModel.write(dir, 7);
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        ((ObjectNode) config.get("vision_config")).put("hidden_act", act);
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        return dir;
    }

    @Test
    void exactGeluUsesErfGeluAndTheTanhApproximationFastGelu() throws Exception {
        SmolVlmExporter.Options options = DemoFixture.options(0.0);
        ArtifactFiles tanh = SmolVlmExporter.export(demoWithActivation("tanh", "gelu_pytorch_tanh"), root.resolve("a-tanh"), options);
        ArtifactFiles erf = SmolVlmExporter.export(demoWithActivation("erf", "gelu"), root.resolve("a-erf"), options);
        for (Path graph : new Path[] {erf.eval(), erf.training(), erf.dir().resolve(SmolVlmExporter.REFERENCE)}) {
            Map<String, Integer> ops = ModelSummary.read(graph).opCounts();
            assertEquals(DemoSpec.VISION_LAYERS, ops.get("com.microsoft::Gelu"), graph + ": one Gelu per vision layer");
            assertFalse(ops.containsKey("com.microsoft::FastGelu"), graph.toString());
        }
        assertEquals(DemoSpec.VISION_LAYERS, ModelSummary.read(tanh.eval()).opCounts().get("com.microsoft::FastGelu"));

        ModelConfig config = ModelConfig.load(root.resolve("erf"));
        DemoFixture demo = new DemoFixture(root.resolve("pairs"), options);
        SmolVlmDpoModel model = new SmolVlmDpoModel(config, null, options.lora(), options.dpo(), options.seed());
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(demo.pairs(3), DpoLayout.SHARED_PREFIX));
        in.putAll(DemoFixture.dpoInputs(2, 0.1f, new float[] {-20f, -25f}, new float[] {-22f, -21f}));
        in.putAll(demo.initialLora(model));
        try (OrtSession a = DemoFixture.session(tanh.eval()); OrtSession b = DemoFixture.session(erf.eval())) {
            float[] withTanh = DemoFixture.run(a, in).get(SmolVlmInputs.CHOSEN_LOGPS);
            float[] withErf = DemoFixture.run(b, in).get(SmolVlmInputs.CHOSEN_LOGPS);
            for (int i = 0; i < withTanh.length; i++) {
                assertTrue(Float.isFinite(withErf[i]));
                assertNotEquals(withTanh[i], withErf[i], "pair " + i + ": the activation reaches the log-probs");
            }
        }
    }

    @Test
    void anUnsupportedActivationFailsTheExportNamingIt() throws Exception {
        Path dir = demoWithActivation("relu", "relu");
        Path out = root.resolve("a-relu");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SmolVlmExporter.export(dir, out, DemoFixture.options(0.0)));
        assertTrue(e.getMessage().contains("vision_config.hidden_act 'relu'") && e.getMessage().contains(dir.toString())
                && e.getMessage().contains("gelu_pytorch_tanh or gelu"), e.getMessage());
        assertFalse(Files.exists(out), "nothing is written");
    }
}
