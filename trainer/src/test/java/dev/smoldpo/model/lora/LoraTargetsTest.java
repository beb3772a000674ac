package dev.smoldpo.model.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoraTargetsTest {
    @Test
    void matchesOnModuleNameSuffixesAsPeftDoes() {
        List<String> targets = LoraConfig.DEFAULT_TARGETS;
        assertTrue(LoraTargets.matches("model.text_model.layers.0.self_attn.q_proj", targets));
        assertTrue(LoraTargets.matches("q_proj", targets));
        assertTrue(LoraTargets.matches("model.vision_model.encoder.layers.3.self_attn.k_proj", targets));
        assertFalse(LoraTargets.matches("model.vision_model.encoder.layers.3.self_attn.out_proj", targets));
        assertFalse(LoraTargets.matches("model.text_model.layers.0.self_attn.xq_proj", targets), "suffix after a dot only");
        assertFalse(LoraTargets.matches("lm_head", targets));
        assertFalse(LoraTargets.matches("model.connector.modality_projection.proj", targets));
    }

    @Test
    void textOnlyKeepsAdaptersOffTheVisionTower() {
        Map<String, long[]> weights = smolVlm256mLinearWeights();
        LoraConfig all = LoraConfig.defaults(8, 8);
        LoraConfig text = new LoraConfig(8, 8, 0.1, LoraConfig.DEFAULT_TARGETS, true);
        assertEquals(12 * 3 + 30 * 7, LoraTargets.select(weights, all).size());
        List<LoraTargets.Target> textTargets = LoraTargets.select(weights, text);
        assertEquals(30 * 7, textTargets.size());
        assertTrue(textTargets.stream().allMatch(t -> t.module().startsWith("model.text_model.")));
        assertEquals(1.0, all.scale());
    }

    @Test
    void namesAndShapesFollowPeftsLayoutForSmolVlm256m() throws Exception {
        List<String> got = new ArrayList<>();
        for (LoraTargets.Target t : LoraTargets.select(smolVlm256mLinearWeights(), LoraConfig.defaults(8, 8))) {
            got.add(t.peftLoraA() + " " + Arrays.toString(t.loraAShape()));
            got.add(t.peftLoraB() + " " + Arrays.toString(t.loraBShape()));
        }
        List<String> golden;
        try (InputStream in = getClass().getResourceAsStream("peft-smolvlm-256m-default-targets-r8.txt")) {
            golden = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        assertEquals(golden, got);
    }

    @Test
    void targetsThatMatchNothingAreAnError() {
        LoraConfig none = new LoraConfig(4, 8, 0, List.of("c_attn"), false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LoraTargets.select(smolVlm256mLinearWeights(), none));
        assertTrue(e.getMessage().contains("c_attn"), e.getMessage());
    }

    /**
     * The 2-D linear weights of SmolVLM-256M-Instruct ([out, in], HF names), sized from the real
     * config.json in shared/models, plus non-matching tensors that must be ignored.
     */
    static Map<String, long[]> smolVlm256mLinearWeights() {
        JsonNode c = realConfig();
        JsonNode v = c.get("vision_config");
        JsonNode t = c.get("text_config");
        long vh = v.get("hidden_size").asLong();
        long th = t.get("hidden_size").asLong();
        long heads = t.get("num_attention_heads").asLong();
        long kv = t.get("num_key_value_heads").asLong();
        long headDim = th / heads;
        long inter = t.get("intermediate_size").asLong();
        Map<String, long[]> w = new LinkedHashMap<>();
        w.put("model.vision_model.embeddings.patch_embedding.weight", new long[] {vh, 3, 16, 16});
        for (int l = 0; l < v.get("num_hidden_layers").asInt(); l++) {
            String p = "model.vision_model.encoder.layers." + l + ".";
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                w.put(p + "self_attn." + proj + ".weight", new long[] {vh, vh});
                w.put(p + "self_attn." + proj + ".bias", new long[] {vh});
            }
            w.put(p + "mlp.fc1.weight", new long[] {v.get("intermediate_size").asLong(), vh});
            w.put(p + "mlp.fc2.weight", new long[] {vh, v.get("intermediate_size").asLong()});
        }
        w.put("model.connector.modality_projection.proj.weight", new long[] {th, vh * 16});
        w.put("model.text_model.embed_tokens.weight", new long[] {49280, th});
        for (int l = 0; l < t.get("num_hidden_layers").asInt(); l++) {
            String p = "model.text_model.layers." + l + ".";
            w.put(p + "self_attn.q_proj.weight", new long[] {heads * headDim, th});
            w.put(p + "self_attn.k_proj.weight", new long[] {kv * headDim, th});
            w.put(p + "self_attn.v_proj.weight", new long[] {kv * headDim, th});
            w.put(p + "self_attn.o_proj.weight", new long[] {th, heads * headDim});
            w.put(p + "mlp.gate_proj.weight", new long[] {inter, th});
            w.put(p + "mlp.up_proj.weight", new long[] {inter, th});
            w.put(p + "mlp.down_proj.weight", new long[] {th, inter});
            w.put(p + "input_layernorm.weight", new long[] {th});
        }
        w.put("lm_head.weight", new long[] {49280, th});
        return w;
    }

    private static JsonNode realConfig() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolveSibling("shared").resolve("models"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("../shared/models not found above " + Path.of("").toAbsolutePath());
        }
        try {
            return new ObjectMapper().readTree(dir.resolveSibling("shared").resolve("models/SmolVLM-256M-Instruct/config.json").toFile());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
