package dev.smoldpo.model.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.testing.SharedModels;
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
        // compared as sets of lines: the order of tensors in an adapter file carries no meaning
        assertEquals(new java.util.TreeSet<>(golden), new java.util.TreeSet<>(got));
        assertEquals(golden.size(), got.size());
    }

    @Test
    void targetsThatMatchNothingAreAnError() {
        LoraConfig none = new LoraConfig(4, 8, 0, List.of("c_attn"), false);
        Map<String, long[]> weights = smolVlm256mLinearWeights();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoraTargets.select(weights, none));
        assertTrue(e.getMessage().contains("c_attn"), e.getMessage());
    }

    /** Every weight of SmolVLM-256M-Instruct (HF names and shapes), from the real config.json in shared/models. */
    static Map<String, long[]> smolVlm256mLinearWeights() {
        try {
            ModelConfig config = ModelConfig.load(SharedModels.smolVlmConfig());
            Map<String, long[]> w = new LinkedHashMap<>();
            for (ModelConfig.WeightSpec spec : config.expectedWeights()) {
                w.put(spec.name(), spec.shape());
            }
            return w;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
