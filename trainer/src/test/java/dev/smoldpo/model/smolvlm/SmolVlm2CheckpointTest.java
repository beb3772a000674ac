package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SmolVLM2 checkpoint (model_type smolvlm, vision smolvlm_vision: transformers' SmolVLM classes
 * subclass the Idefics3 ones with the same weights and forward pass, models/smolvlm/modular_smolvlm.py)
 * exports and trains like an Idefics3 one. Its config.json is written as transformers saves SmolVLM2
 * configs: vision_config as a diff against SmolVLMVisionConfig's defaults, so num_channels,
 * hidden_act and layer_norm_eps are left out.
 */
class SmolVlm2CheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    /** The demo checkpoint (same weights) with its config.json rewritten in SmolVLM2's form. */
    static Path smolVlm2Checkpoint(Path dir) throws Exception {
        DemoModel.write(dir, 7);
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        config.put("model_type", "smolvlm");
        config.putArray("architectures").add("SmolVLMForConditionalGeneration");
        ObjectNode vision = (ObjectNode) config.get("vision_config");
        vision.put("model_type", "smolvlm_vision");
        vision.put("use_base_siglip", false);
        vision.remove(List.of("num_channels", "hidden_act", "layer_norm_eps", "attention_dropout", "initializer_range",
                "_name_or_path"));
        ObjectNode text = (ObjectNode) config.get("text_config");
        text.putArray("architectures").add("VLlama3ForCausalLM");
        text.remove(List.of("hidden_act", "attention_bias", "mlp_bias", "tie_word_embeddings", "_name_or_path"));
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        return dir;
    }

    @Test
    void configLoadsWithTransformersDefaultsForTheFieldsLeftOut() throws Exception {
        Path dir = smolVlm2Checkpoint(root.resolve("smolvlm2"));
        ModelConfig config = ModelConfig.load(dir);
        assertEquals("smolvlm", config.modelType());
        assertEquals("smolvlm_vision", config.vision().modelType());
        assertEquals(3, config.vision().numChannels());
        assertEquals("gelu_pytorch_tanh", config.vision().hiddenAct());
        assertEquals(1e-6, config.vision().layerNormEps());
        assertEquals("silu", config.text().hiddenAct());
        assertEquals(ModelConfig.load(exportedDemo(root.resolve("idefics3"))).expectedWeights(), config.expectedWeights(),
                "the same weights as the Idefics3 checkpoint");
    }

    @Test
    void exportsToTheSameGraphsAsIdefics3AndTrainsOneStep() throws Exception {
        Path idefics3 = exportedDemo(root.resolve("idefics3"));
        Path smolvlm2 = smolVlm2Checkpoint(root.resolve("smolvlm2"));
        SmolVlmExporter.Options options = DemoFixture.options(0.0);
        ArtifactFiles a = SmolVlmExporter.export(idefics3, root.resolve("a-idefics3"), options);
        ArtifactFiles b = SmolVlmExporter.export(smolvlm2, root.resolve("a-smolvlm2"), options);
        ModelConfig config = ModelConfig.load(smolvlm2);
        SmolVlmDpoModel model = new SmolVlmDpoModel(config, null, options.lora(), options.dpo(), options.seed());
        DemoFixture pairs = new DemoFixture(root.resolve("pairs"), options);
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(pairs.pairs(5), DpoLayout.SHARED_PREFIX));
        in.putAll(DemoFixture.dpoInputs(2, 0.1f, new float[] {-20f, -25f}, new float[] {-22f, -21f}));
        Map<String, TensorData> withLora = new HashMap<>(in);
        withLora.putAll(pairs.loraWithRandomB(model, 4));
        try (OrtSession ea = DemoFixture.session(a.eval()); OrtSession eb = DemoFixture.session(b.eval())) {
            Map<String, float[]> oa = DemoFixture.run(ea, withLora);
            Map<String, float[]> ob = DemoFixture.run(eb, withLora);
            for (String out : List.of(SmolVlmInputs.CHOSEN_LOGPS, SmolVlmInputs.REJECTED_LOGPS, SmolVlmInputs.LOSS)) {
                assertEquals(java.util.Arrays.toString(oa.get(out)), java.util.Arrays.toString(ob.get(out)), out);
            }
        }

        Checkpoint before = CheckpointReader.read(b.checkpoint());
        Path after = root.resolve("after.ckpt");
        float loss;
        try (TrainingSession session = TrainingSession.open(b, b.checkpoint(), 1)) {
            session.ort().setLearningRate(1e-2f);
            session.ort().lazyResetGrad();
            Map<String, OnnxTensor> feed = OrtTensors.of(session.env(), in);
            try {
                loss = session.trainStep(feed).get(SmolVlmInputs.LOSS)[0];
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
            session.ort().optimizerStep();
            session.ort().saveCheckpoint(after, false);
        }
        assertTrue(Float.isFinite(loss), "finite loss " + loss);
        boolean changed = false;
        for (CheckpointTensor t : before.trainable()) {
            float[] x = t.toFloatArray();
            float[] y = CheckpointReader.read(after).parameter(t.name()).toFloatArray();
            for (int i = 0; i < x.length && !changed; i++) {
                changed = x[i] != y[i];
            }
        }
        assertTrue(changed, "one step changes the LoRA tensors");
        assertFalse(before.trainable().isEmpty());
    }

    private static Path exportedDemo(Path dir) throws Exception {
        return DemoModel.write(dir, 7);
    }
}
