package dev.smoldpo.export.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.infer.CachedDecoder;
import dev.smoldpo.infer.GraphDtypes;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's deployment in every precision: transformers.js' file names, ORT loads each, and each stays near float32. */
class DeploymentVariantsTest {
    @TempDir
    static Path root;
    static Path deploy;
    static ModelConfig config;

    @BeforeAll
    static void export() throws Exception {
        Path modelDir = DemoModel.write(root.resolve("model"), 42);
        ArtifactFiles artifacts = SmolVlmExporter.export(modelDir, root.resolve("artifacts"), new SmolVlmExporter.Options("demo",
                new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        config = ModelConfig.load(modelDir);
        Path trained = DeploymentExporterTest.randomAdapters(artifacts.checkpoint(), root.resolve("trained.ckpt"));
        deploy = DeploymentExporter.export(artifacts.dir(), trained, root.resolve("deploy"), null,
                new DeploymentVariants(EnumSet.allOf(DeploymentDtype.class), 32));
    }

    /** The bytes of a graph in one dtype: the .onnx file and its external data. */
    static long bytes(DeploymentDtype p, String graph) throws Exception {
        Path f = deploy.resolve("onnx/" + p.fileName(graph));
        return Files.size(f) + Files.size(f.resolveSibling(f.getFileName() + "_data"));
    }

    static long weightBytes(DeploymentDtype p, String graph) throws Exception {
        return Files.size(deploy.resolve("onnx/" + p.fileName(graph) + "_data"));
    }

    @Test
    void everyGraphIsWrittenUnderTransformersJsFileNames() throws Exception {
        Map<DeploymentDtype, String> suffix = Map.of(DeploymentDtype.FP32, "", DeploymentDtype.FP16, "_fp16",
                DeploymentDtype.Q8, "_quantized", DeploymentDtype.Q4, "_q4", DeploymentDtype.Q4F16, "_q4f16");
        for (DeploymentDtype p : DeploymentDtype.values()) {
            for (String g : GraphDtypes.GRAPHS) {
                Path f = deploy.resolve("onnx/" + g + suffix.get(p) + ".onnx");
                assertTrue(Files.isRegularFile(f), f + " written");
                assertTrue(Files.isRegularFile(f.resolveSibling(f.getFileName() + "_data")), f + "_data written");
            }
        }
        JsonNode js = new ObjectMapper().readTree(deploy.resolve("config.json").toFile()).path("transformers.js_config");
        assertEquals("fp32", js.path("dtype").asText(), "float32 is what transformers.js loads unless told");
        assertEquals("float16", js.path("kv_cache_dtype").path("fp16").asText());
        assertEquals("float16", js.path("kv_cache_dtype").path("q4f16").asText());
        assertFalse(js.path("kv_cache_dtype").has("q4"), "q4 keeps a float32 cache");
    }

    @Test
    void theQuantizedGraphsHoldOrtsQuantizedOpsAndTheCacheFollowsTheComputeType() {
        ModelSummary q4 = summary(DeploymentDtype.Q4, GraphDtypes.DECODER);
        assertTrue(q4.opCounts().getOrDefault("com.microsoft::MatMulNBits", 0) > 0, "q4 decoder ops " + q4.opCounts());
        ModelSummary q8 = summary(DeploymentDtype.Q8, GraphDtypes.DECODER);
        assertTrue(q8.opCounts().getOrDefault("com.microsoft::DynamicQuantizeMatMul", 0) > 0, "q8 decoder ops " + q8.opCounts());
        for (DeploymentDtype p : List.of(DeploymentDtype.Q8, DeploymentDtype.Q4, DeploymentDtype.Q4F16)) {
            ModelSummary embed = summary(p, GraphDtypes.EMBED_TOKENS);
            assertEquals(1, embed.opCounts().getOrDefault("com.microsoft::GatherBlockQuantized", 0), p + " embed ops " + embed.opCounts());
            for (String g : GraphDtypes.GRAPHS) {
                // every weight matrix is quantized: no float matrix of a linear layer is left
                ModelSummary m = summary(p, g);
                assertEquals(0, m.opCounts().getOrDefault("MatMul", 0) - attentionMatMuls(g), p + " " + g + " ops " + m.opCounts());
            }
        }
        for (DeploymentDtype p : DeploymentDtype.values()) {
            ModelSummary d = summary(p, GraphDtypes.DECODER);
            DType cache = p.compute();
            assertEquals(cache, tensor(d.inputs(), "past_key_values.0.key").dtype(), p + " past cache");
            assertEquals(cache, tensor(d.outputs(), "present.0.value").dtype(), p + " present cache");
            // the rest of the interface stays float32, so graphs of different dtypes can be mixed
            assertEquals(DType.FLOAT, tensor(d.inputs(), "inputs_embeds").dtype(), p + " inputs_embeds");
            assertEquals(DType.FLOAT, tensor(d.outputs(), "logits").dtype(), p + " logits");
        }
        ModelSummary fp16 = summary(DeploymentDtype.FP16, GraphDtypes.DECODER);
        assertTrue(fp16.initializers().stream().anyMatch(t -> t.dtype() == DType.FLOAT16), "float16 weights");
        assertTrue(fp16.opCounts().containsKey("Softmax"), "attention softmax present");
    }

    /** The MatMuls between activations (attention scores and mixing): two per attention layer. */
    static int attentionMatMuls(String graph) {
        return switch (graph) {
            case GraphDtypes.VISION_ENCODER -> 2 * config.vision().numHiddenLayers();
            case GraphDtypes.DECODER -> 2 * config.text().numHiddenLayers();
            default -> 0;
        };
    }

    @Test
    void theQ4DecoderIsAtMostAThirdOfFloat32() throws Exception {
        long fp32 = bytes(DeploymentDtype.FP32, GraphDtypes.DECODER);
        for (DeploymentDtype p : List.of(DeploymentDtype.Q4, DeploymentDtype.Q4F16)) {
            double ratio = (double) bytes(p, GraphDtypes.DECODER) / fp32;
            System.out.printf("%s decoder: %.3f of float32%n", p, ratio);
            assertTrue(ratio <= 0.35, p + " decoder is " + ratio + " of float32");
        }
        // the weights alone (at the demo's size the graph itself is a good part of each file)
        long fp32Weights = weightBytes(DeploymentDtype.FP32, GraphDtypes.DECODER);
        assertTrue(weightBytes(DeploymentDtype.FP16, GraphDtypes.DECODER) <= 0.51 * fp32Weights, "float16 weights about half");
        assertTrue(weightBytes(DeploymentDtype.Q8, GraphDtypes.DECODER) <= 0.3 * fp32Weights, "8-bit weights about a quarter");
    }

    /**
     * Every variant loads in stock ONNX Runtime on the CPU and its prompt logits stay near float32's,
     * each dtype within its own budget: float16 rounds weights and activations to 11 significant bits
     * (relative 2^-11 ≈ 5e-4 per stage), 8-bit weights to 1/255 of a column's range, 4-bit ones to 1/15 of
     * a 32-weight block's; the demo's tiny, random layers average little of that error away.
     */
    @Test
    void everyVariantLoadsInOrtCpuAndStaysNearFloat32() throws Exception {
        long[] ids = prompt();
        float[] tile = tile(9);
        float[] reference = logits(GraphDtypes.FP32, ids, tile);
        double scale = 0;
        for (float v : reference) {
            scale = Math.max(scale, Math.abs(v));
        }
        Map<DeploymentDtype, Double> budget = Map.of(DeploymentDtype.FP32, 0.0, DeploymentDtype.FP16, 0.01,
                DeploymentDtype.Q8, 0.15, DeploymentDtype.Q4, 0.6, DeploymentDtype.Q4F16, 0.6);
        for (DeploymentDtype p : DeploymentDtype.values()) {
            float[] l = logits(GraphDtypes.all(p), ids, tile);
            double worst = maxDifference(l, reference);
            System.out.printf("%s: max |Δlogit| %.4g of max |logit| %.4g%n", p, worst, scale);
            assertTrue(worst <= budget.get(p) * scale, p + ": max |Δlogit| " + worst + " > " + budget.get(p) + " x " + scale);
        }
    }

    @Test
    void graphsOfDifferentDtypesMixFileByFile() throws Exception {
        long[] ids = prompt();
        float[] tile = tile(10);
        float[] reference = logits(GraphDtypes.FP32, ids, tile);
        GraphDtypes mixed = GraphDtypes.parse("vision_encoder=fp16,embed_tokens=q8,decoder_model_merged=q4f16");
        float[] l = logits(mixed, ids, tile);
        double scale = 0;
        for (float v : reference) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = maxDifference(l, reference);
        assertTrue(worst > 0 && worst <= 0.6 * scale, "mixed: max |Δlogit| " + worst);
        // only the decoder in q4: differs from float32, and from the all-q4f16 run
        float[] decoderOnly = logits(new GraphDtypes(Map.of(GraphDtypes.DECODER, DeploymentDtype.Q4F16)), ids, tile);
        assertTrue(maxDifference(decoderOnly, l) > 0, "the vision and embedding dtypes change the result");
    }

    static double maxDifference(float[] a, float[] b) {
        assertEquals(b.length, a.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(a[i]), "logit " + i + " is " + a[i]);
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    static ModelSummary summary(DeploymentDtype p, String graph) {
        return ModelSummary.read(deploy.resolve("onnx/" + p.fileName(graph)));
    }

    static ModelSummary.Tensor tensor(List<ModelSummary.Tensor> list, String name) {
        return list.stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow(() -> new AssertionError("no " + name));
    }

    static long[] prompt() {
        List<Long> ids = new ArrayList<>(List.of((long) DemoSpec.IM_START_ID, 50L, 60L, (long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID));
        for (int i = 0; i < config.imageSeqLen(); i++) {
            ids.add((long) DemoSpec.IMAGE_TOKEN_ID);
        }
        ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < 10; i++) {
            ids.add(DemoSpec.FIRST_REGULAR_ID + (long) r.nextInt(400));
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    static float[] tile(long seed) {
        int s = config.vision().imageSize();
        float[] tile = new float[3 * s * s];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < tile.length; i++) {
            tile[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return tile;
    }

    /** Logits of every position of the prompt (image features merged), through the chosen files. */
    static float[] logits(GraphDtypes dtypes, long[] ids, float[] tile) throws Exception {
        return promptLogits(deploy, config, dtypes, ids, tile);
    }

    /** Logits of every position of {@code ids} with one tile's features over its image tokens, through {@code dtypes}' files. */
    static float[] promptLogits(Path deploy, ModelConfig config, GraphDtypes dtypes, long[] ids, float[] tile) throws Exception {
        int s = config.vision().imageSize();
        ByteBuffer mask = ByteBuffer.allocateDirect(s * s).order(ByteOrder.nativeOrder());
        for (int i = 0; i < s * s; i++) {
            mask.put((byte) 1);
        }
        mask.flip();
        try (CachedDecoder d = CachedDecoder.open(deploy, config, dtypes, 1, false)) {
            float[] features = d.imageFeatures(FloatBuffer.wrap(tile), mask, 1, s, s);
            return d.logits(d.promptEmbeddings(ids, features), ids.length, ids.length);
        }
    }
}
