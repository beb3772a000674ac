package dev.smoldpo.model.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.WeightCheck;
import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCheckpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void loadsAndHasEveryExpectedWeight() throws IOException {
        Path dir = tmp.resolve("demo");
        DemoCheckpoint.write(dir, 7);
        for (String f : DemoCheckpoint.fileNames()) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        ModelConfig c = ModelConfig.load(dir);
        assertEquals("idefics3", c.modelType());
        assertEquals(DemoSpec.IMAGE_TOKEN_ID, c.imageTokenId());
        assertEquals(DemoSpec.SCALE_FACTOR, c.scaleFactor());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(DemoSpec.VOCAB_SIZE, c.vocabSize());
        assertEquals(DemoSpec.IMAGE_SEQ_LEN, c.imageSeqLen());
        assertEquals(DemoSpec.TEXT_HIDDEN, c.text().hiddenSize());
        assertEquals(DemoSpec.TEXT_INTERMEDIATE, c.text().intermediateSize());
        assertEquals(DemoSpec.TEXT_LAYERS, c.text().numHiddenLayers());
        assertEquals(DemoSpec.TEXT_HEADS, c.text().numAttentionHeads());
        assertEquals(DemoSpec.TEXT_KV_HEADS, c.text().numKeyValueHeads());
        assertEquals(DemoSpec.ROPE_THETA, c.text().ropeTheta());
        assertEquals(DemoSpec.RMS_NORM_EPS, c.text().rmsNormEps());
        assertEquals(DemoSpec.MAX_POSITION_EMBEDDINGS, c.text().maxPositionEmbeddings());
        assertEquals(DemoSpec.VISION_HIDDEN, c.vision().hiddenSize());
        assertEquals(DemoSpec.VISION_INTERMEDIATE, c.vision().intermediateSize());
        assertEquals(DemoSpec.VISION_LAYERS, c.vision().numHiddenLayers());
        assertEquals(DemoSpec.VISION_HEADS, c.vision().numAttentionHeads());
        assertEquals(DemoSpec.PATCH_SIZE, c.vision().patchSize());
        assertEquals(DemoSpec.TILE_SIZE, c.vision().imageSize());
        assertEquals(DemoSpec.LAYER_NORM_EPS, c.vision().layerNormEps());
        assertEquals("gelu_pytorch_tanh", c.vision().hiddenAct());
        assertEquals(3, c.vision().numChannels());

        try (SafetensorsFile sf = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            WeightCheck.Report r = WeightCheck.verify(c, sf);
            assertTrue(r.ok());
            assertEquals(List.of(), r.unexpected());
            assertEquals(c.expectedWeights().size(), sf.names().size());
            for (ModelConfig.WeightSpec s : c.expectedWeights()) {
                assertEquals("F32", sf.info(s.name()).dtype(), s.name());
                float[] v = sf.readFloat32(s.name());
                assertArrayEquals(DemoCheckpoint.values(s, 7), v, s.name());
                for (float x : v) {
                    assertTrue(Float.isFinite(x));
                }
            }
            // value statistics follow the documented scheme
            float[] q = sf.readFloat32("model.text_model.layers.0.self_attn.q_proj.weight");
            assertEquals(DemoCheckpoint.WEIGHT_STD, std(q), 0.03);
            float[] norm = sf.readFloat32("model.text_model.norm.weight");
            assertEquals(1.0, mean(norm), 0.1);
            assertTrue(std(norm) > 0.02, "norm weights are not all exactly one");
            float[] bias = sf.readFloat32("model.vision_model.encoder.layers.0.mlp.fc1.bias");
            assertEquals(0.0, mean(bias), 0.05);
        }
    }

    @Test
    void jsonFilesHaveTheKeysOfTheRealSmolVlmFiles() throws IOException {
        Path dir = tmp.resolve("demo");
        DemoCheckpoint.write(dir, 1);
        Path real = SharedModels.smolVlmDir();
        for (String f : List.of("preprocessor_config.json", "processor_config.json", "generation_config.json")) {
            assertEquals(keys(JSON.readTree(real.resolve(f).toFile())), keys(JSON.readTree(dir.resolve(f).toFile())), f);
        }
        JsonNode cfg = JSON.readTree(dir.resolve("config.json").toFile());
        // the fields that matter for the model are where the real file has them
        JsonNode r = JSON.readTree(real.resolve("config.json").toFile());
        for (String k : List.of("architectures", "image_token_id", "model_type", "scale_factor", "text_config",
                "tie_word_embeddings", "vision_config", "vocab_size")) {
            assertTrue(r.has(k) && cfg.has(k), k);
        }
        for (String k : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta", "vocab_size",
                "max_position_embeddings", "hidden_act", "model_type", "attention_bias", "mlp_bias",
                "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id")) {
            assertTrue(r.get("text_config").has(k) && cfg.get("text_config").has(k), "text_config." + k);
        }
        for (String k : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "patch_size", "image_size", "layer_norm_eps", "hidden_act", "num_channels", "model_type",
                "max_image_size", "size")) {
            assertTrue(r.get("vision_config").has(k) && cfg.get("vision_config").has(k), "vision_config." + k);
        }
    }

    @Test
    void jsonFilesCarryTheDemoSettings() throws IOException {
        Path dir = tmp.resolve("demo");
        DemoCheckpoint.write(dir, 1);
        JsonNode pre = JSON.readTree(dir.resolve("preprocessor_config.json").toFile());
        assertEquals("Idefics3ImageProcessor", pre.get("image_processor_type").asText());
        assertEquals(DemoSpec.LONGEST_EDGE, pre.get("size").get("longest_edge").asInt());
        assertEquals(DemoSpec.TILE_SIZE, pre.get("max_image_size").get("longest_edge").asInt());
        assertEquals(1, pre.get("resample").asInt());
        assertEquals(1.0 / 255, pre.get("rescale_factor").asDouble());
        assertTrue(pre.get("do_image_splitting").asBoolean());
        assertTrue(pre.get("do_pad").asBoolean());
        assertTrue(pre.get("do_convert_rgb").asBoolean());
        for (String k : List.of("image_mean", "image_std")) {
            assertEquals(3, pre.get(k).size());
            pre.get(k).forEach(x -> assertEquals(0.5, x.asDouble()));
        }
        JsonNode proc = JSON.readTree(dir.resolve("processor_config.json").toFile());
        assertEquals(DemoSpec.IMAGE_SEQ_LEN, proc.get("image_seq_len").asInt());
        assertEquals("Idefics3Processor", proc.get("processor_class").asText());
        JsonNode gen = JSON.readTree(dir.resolve("generation_config.json").toFile());
        assertEquals(DemoSpec.END_OF_UTTERANCE_ID, gen.get("eos_token_id").asInt());

        JsonNode cfg = JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals("Idefics3ForConditionalGeneration", cfg.get("architectures").get(0).asText());
        assertEquals("llama", cfg.get("text_config").get("model_type").asText());
        assertEquals("silu", cfg.get("text_config").get("hidden_act").asText());
        assertFalse(cfg.get("tie_word_embeddings").asBoolean());
        String text = Files.readString(dir.resolve("config.json"));
        assertTrue(text.contains("\"model_type\": \"idefics3\""), "HF-style `\"key\": value` formatting");
        assertTrue(text.endsWith("}\n"));
    }

    @Test
    void deterministicPerSeed() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        Path c = tmp.resolve("c");
        DemoCheckpoint.write(a, 42);
        DemoCheckpoint.write(b, 42);
        DemoCheckpoint.write(c, 43);
        for (String f : DemoCheckpoint.fileNames()) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a.resolve("model.safetensors")),
                Files.readAllBytes(c.resolve("model.safetensors"))));
        // only the weights depend on the seed
        assertArrayEquals(Files.readAllBytes(a.resolve("config.json")), Files.readAllBytes(c.resolve("config.json")));
        // writing again over an existing folder gives the same bytes
        DemoCheckpoint.write(a, 42);
        assertArrayEquals(Files.readAllBytes(a.resolve("model.safetensors")),
                Files.readAllBytes(b.resolve("model.safetensors")));
    }

    @Test
    void bf16Option() throws IOException {
        Path dir = tmp.resolve("bf16");
        DemoCheckpoint.write(dir, 7, SafetensorsDtype.BF16);
        ModelConfig c = ModelConfig.load(dir);
        try (SafetensorsFile sf = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            assertTrue(WeightCheck.verify(c, sf).ok());
            ModelConfig.WeightSpec s = c.expectedWeights().get(0);
            assertEquals("BF16", sf.info(s.name()).dtype());
            float[] exact = DemoCheckpoint.values(s, 7);
            float[] read = sf.readFloat32(s.name());
            for (int i = 0; i < exact.length; i++) {
                assertEquals(exact[i], read[i], Math.abs(exact[i]) / 128 + 1e-30);
            }
        }
        assertEquals("bfloat16", JSON.readTree(dir.resolve("config.json").toFile()).get("torch_dtype").asText());
    }

    private static List<String> keys(JsonNode n) {
        List<String> k = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            k.add(it.next());
        }
        k.sort(null);
        return k;
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(float[] v) {
        double m = mean(v);
        double s = 0;
        for (float x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / v.length);
    }
}
