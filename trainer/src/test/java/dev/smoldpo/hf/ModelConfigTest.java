package dev.smoldpo.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ModelConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path realConfig() {
        return SharedModels.smolVlmDir().resolve("config.json");
    }

    static ObjectNode realTree() throws IOException {
        return (ObjectNode) JSON.readTree(realConfig().toFile());
    }

    @Test
    void realSmolVlm256mConfigLoads() throws IOException {
        ModelConfig c = ModelConfig.load(SharedModels.smolVlmDir());
        assertEquals("idefics3", c.modelType());
        assertEquals(49190, c.imageTokenId());
        assertEquals(4, c.scaleFactor());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(49280, c.vocabSize());
        assertEquals(64, c.imageSeqLen());
        assertEquals(12288, c.connectorInputSize());

        ModelConfig.VisionConfig v = c.vision();
        assertEquals(768, v.hiddenSize());
        assertEquals(3072, v.intermediateSize());
        assertEquals(12, v.numHiddenLayers());
        assertEquals(12, v.numAttentionHeads());
        assertEquals(16, v.patchSize());
        assertEquals(512, v.imageSize());
        assertEquals(1e-6, v.layerNormEps());
        assertEquals("gelu_pytorch_tanh", v.hiddenAct());
        assertEquals(3, v.numChannels());
        assertEquals(1024, v.numPatches());

        ModelConfig.TextConfig t = c.text();
        assertEquals("llama", t.modelType());
        assertEquals(576, t.hiddenSize());
        assertEquals(1536, t.intermediateSize());
        assertEquals(30, t.numHiddenLayers());
        assertEquals(9, t.numAttentionHeads());
        assertEquals(3, t.numKeyValueHeads());
        assertEquals(64, t.headDim());
        assertEquals(100000.0, t.ropeTheta());
        assertEquals(1e-5, t.rmsNormEps());
        assertEquals(49280, t.vocabSize());
        assertEquals(8192, t.maxPositionEmbeddings());
        assertFalse(t.attentionBias());
        assertFalse(t.mlpBias());
    }

    private static String golden() throws IOException {
        try (InputStream in = ModelConfigTest.class.getResourceAsStream("smolvlm-256m-instruct-weights.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String render(List<ModelConfig.WeightSpec> ws) {
        StringBuilder sb = new StringBuilder();
        for (ModelConfig.WeightSpec w : ws) {
            sb.append(w.name()).append('\t').append(Arrays.toString(w.shape())).append('\n');
        }
        return sb.toString();
    }

    @Test
    void expectedWeightsMatchGoldenList() throws IOException {
        ModelConfig c = ModelConfig.load(realConfig());
        List<ModelConfig.WeightSpec> ws = c.expectedWeights();
        assertEquals(golden(), render(ws));
        assertEquals(471, ws.size());
        assertEquals(256_484_928L, ws.stream().mapToLong(ModelConfig.WeightSpec::elementCount).sum());
    }

    /**
     * The only facts about the real checkpoint available offline are in its LFS pointer: the file
     * size. A bf16 safetensors file with exactly the expected names and shapes, laid out the way
     * the reference serializer does (compact JSON, {"format":"pt"} metadata, name order, padded to 8
     * bytes), has that exact size; wrong names or shapes would almost surely change it.
     */
    @Test
    void expectedWeightsReproduceTheRealFileSize() throws IOException {
        String pointer = Files.readString(SharedModels.smolVlmDir().resolve("model.safetensors.lfs-pointer"));
        Matcher m = Pattern.compile("(?m)^size (\\d+)$").matcher(pointer);
        assertTrue(m.find(), pointer);
        long realSize = Long.parseLong(m.group(1));

        List<ModelConfig.WeightSpec> ws = new ArrayList<>(ModelConfig.load(realConfig()).expectedWeights());
        ws.sort(Comparator.comparing(ModelConfig.WeightSpec::name));
        ObjectNode h = JSON.createObjectNode();
        h.putObject("__metadata__").put("format", "pt");
        long off = 0;
        for (ModelConfig.WeightSpec w : ws) {
            ObjectNode o = h.putObject(w.name());
            o.put("dtype", "BF16");
            var shape = o.putArray("shape");
            Arrays.stream(w.shape()).forEach(shape::add);
            long len = 2 * w.elementCount();
            o.putArray("data_offsets").add(off).add(off + len);
            off += len;
        }
        long headerLen = (JSON.writeValueAsBytes(h).length + 7) & ~7L;
        assertEquals(realSize, 8 + headerLen + off);
    }

    @Test
    void unknownModelTypeIsRefused() throws IOException {
        ObjectNode t = realTree();
        t.put("model_type", "llava");
        HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t, Path.of("cfg.json")));
        assertTrue(e.getMessage().contains("'llava'") && e.getMessage().contains("cfg.json"), e.getMessage());
    }

    @Test
    void smolvlmModelTypeIsAccepted() throws IOException {
        ObjectNode t = realTree();
        t.put("model_type", "smolvlm");
        assertEquals("smolvlm", ModelConfig.parse(t, Path.of("cfg.json")).modelType());
    }

    @Test
    void missingRequiredFieldsAreNamed() throws IOException {
        ObjectNode t = realTree();
        ((ObjectNode) t.get("text_config")).remove("hidden_size");
        HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t, Path.of("a/config.json")));
        assertTrue(e.getMessage().contains("'text_config.hidden_size'") && e.getMessage().contains("a/config.json"),
                e.getMessage());

        ObjectNode t2 = realTree();
        t2.remove("scale_factor");
        e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t2, Path.of("config.json")));
        assertTrue(e.getMessage().contains("'scale_factor'"), e.getMessage());

        ObjectNode t3 = realTree();
        ((ObjectNode) t3.get("vision_config")).put("patch_size", "sixteen"); // absent takes transformers' default
        e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t3, Path.of("config.json")));
        assertTrue(e.getMessage().contains("'vision_config.patch_size'"), e.getMessage());

        ObjectNode t4 = realTree();
        ((ObjectNode) t4.get("text_config")).put("num_hidden_layers", "thirty");
        e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t4, Path.of("config.json")));
        assertTrue(e.getMessage().contains("'text_config.num_hidden_layers'"), e.getMessage());
    }

    @Test
    void headDimIsDerivedWhenAbsentAndVocabMustAgree() throws IOException {
        ObjectNode t = realTree();
        ((ObjectNode) t.get("text_config")).remove("head_dim");
        assertEquals(64, ModelConfig.parse(t, Path.of("c.json")).text().headDim());

        ObjectNode t2 = realTree();
        t2.put("vocab_size", 50000);
        HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t2, Path.of("c.json")));
        assertTrue(e.getMessage().contains("vocab_size"), e.getMessage());

        ObjectNode t3 = realTree();
        t3.remove("vocab_size");
        assertEquals(49280, ModelConfig.parse(t3, Path.of("c.json")).vocabSize());

        ObjectNode t4 = realTree();
        t4.put("tie_word_embeddings", true);
        ModelConfig tied = ModelConfig.parse(t4, Path.of("c.json"));
        assertTrue(tied.expectedWeights().stream().noneMatch(w -> w.name().equals("lm_head.weight")));
    }

    /** Each shape field over its bound fails at parse time, naming the field and the allowed range. */
    @Test
    void absurdSizesAreRefusedNamingTheField() throws IOException {
        Object[][] cases = {
                {"text_config", "num_hidden_layers", 1_000_000, ModelConfig.MAX_LAYERS},
                {"text_config", "hidden_size", 1 << 20, ModelConfig.MAX_HIDDEN_SIZE},
                {"text_config", "intermediate_size", 1 << 28, ModelConfig.MAX_INTERMEDIATE_SIZE},
                {"text_config", "num_attention_heads", 100_000, ModelConfig.MAX_HEADS},
                {"text_config", "num_key_value_heads", 100_000, ModelConfig.MAX_HEADS},
                {"text_config", "head_dim", 100_000, ModelConfig.MAX_HEAD_DIM},
                {"text_config", "vocab_size", 1 << 30, ModelConfig.MAX_VOCAB_SIZE},
                {"text_config", "max_position_embeddings", 1 << 30, ModelConfig.MAX_POSITIONS},
                {"vision_config", "num_hidden_layers", 5000, ModelConfig.MAX_LAYERS},
                {"vision_config", "hidden_size", 1 << 20, ModelConfig.MAX_HIDDEN_SIZE},
                {"vision_config", "intermediate_size", 1 << 28, ModelConfig.MAX_INTERMEDIATE_SIZE},
                {"vision_config", "num_attention_heads", 100_000, ModelConfig.MAX_HEADS},
                {"vision_config", "image_size", 1 << 16, ModelConfig.MAX_IMAGE_SIZE},
                {"vision_config", "patch_size", 1 << 16, ModelConfig.MAX_PATCH_SIZE},
                {"vision_config", "num_channels", 1000, ModelConfig.MAX_CHANNELS},
                {null, "scale_factor", 1000, ModelConfig.MAX_SCALE_FACTOR},
        };
        for (Object[] c : cases) {
            ObjectNode t = realTree();
            ObjectNode node = c[0] == null ? t : (ObjectNode) t.get((String) c[0]);
            node.put((String) c[1], (Integer) c[2]);
            String field = (c[0] == null ? "" : c[0] + ".") + c[1];
            HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t, Path.of("m/config.json")),
                    field);
            assertTrue(e.getMessage().contains("m/config.json: field '" + field + "' is " + c[2])
                    && e.getMessage().contains("1.." + c[3]), e.getMessage());
        }
        // a derived head_dim over the bound is refused too
        ObjectNode t = realTree();
        ObjectNode text = (ObjectNode) t.get("text_config");
        text.remove("head_dim");
        text.put("hidden_size", 65_536).put("num_attention_heads", 8).put("num_key_value_heads", 8);
        HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t, Path.of("config.json")));
        assertTrue(e.getMessage().contains("head_dim of 8192"), e.getMessage());
    }

    @Test
    void unparsableConfigNamesLineAndColumnWithoutJacksonText(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\n  \"model_type\": \"idefics3\",\n  \"scale_factor\": 4 4\n}\n");
        HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().startsWith(file + ": not valid JSON at line 3 column "), e.getMessage());
        assertFalse(e.getMessage().contains("Source") || e.getMessage().contains("\n"), e.getMessage());

        Files.writeString(file, "{\"model_type\": \"idefics3\"} {}");
        e = assertThrows(HfFormatException.class, () -> ModelConfig.load(dir));
        assertTrue(e.getMessage().contains("not valid JSON at line 1 column ")
                && e.getMessage().contains("more content after the end"), e.getMessage());
    }

    @Test
    void hugeFieldValuesAreShortenedInMessages() throws IOException {
        ObjectNode t = realTree();
        ((ObjectNode) t.get("text_config")).putArray("hidden_size").addAll(
                java.util.Collections.nCopies(10_000, JSON.getNodeFactory().numberNode(576)));
        HfFormatException e = assertThrows(HfFormatException.class, () -> ModelConfig.parse(t, Path.of("config.json")));
        assertTrue(e.getMessage().length() < 400 && e.getMessage().contains("more characters)"), e.getMessage());
    }
}
