package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our exported graphs against transformers' own Idefics3ForConditionalGeneration (v4.46.0, run in
 * float64 by tools/fixtures/idefics3_tiny.py) on a tiny random checkpoint (fixtures/idefics3-tiny)
 * and two pairs: a 2x2 grid + global image, and one tile with a partial pixel mask. The eval graph
 * (LoRA B = 0, both layouts) and the reference graph give transformers' completion log-prob sums and
 * logit sums, and the decoder's logits at a few positions agree, with the vision MLP's
 * gelu_pytorch_tanh and with exact gelu.
 */
class Idefics3TransformersParityTest {
    /** float32 graphs against float64 transformers: |ours - theirs| <= 2e-6 |theirs| + ABSOLUTE. */
    private static final double RELATIVE = 2e-6;
    private static final double ABSOLUTE = 2e-6;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    @ParameterizedTest
    @ValueSource(strings = {"gelu_pytorch_tanh", "gelu"})
    void exportedGraphsGiveTransformersLogProbsAndLogits(String activation) throws Exception {
        JsonNode fixture = Fixtures.json("idefics3_tiny_expected.json");
        Path modelDir = checkpoint(activation);
        ModelConfig config = ModelConfig.load(modelDir);
        SmolVlmExporter.Options options = DemoFixture.options(0.0);
        ArtifactFiles files = SmolVlmExporter.export(modelDir, root.resolve("artifacts"), options);
        SmolVlmDpoModel model = new SmolVlmDpoModel(config, null, options.lora(), options.dpo(), options.seed());
        List<DpoCollator.Pair> pairs = pairs(fixture, config);
        JsonNode expected = fixture.get(activation);
        double worst = 0;
        try (OrtSession eval = DemoFixture.session(files.eval());
             OrtSession reference = DemoFixture.session(files.dir().resolve(SmolVlmExporter.REFERENCE))) {
            for (DpoLayout layout : DpoLayout.values()) {
                Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(pairs, layout));
                in.putAll(DemoFixture.dpoInputs(pairs.size(), 0.1f, new float[pairs.size()], new float[pairs.size()]));
                Map<String, TensorData> withLora = new HashMap<>(in);
                for (var p : model.trainableParameters()) {
                    withLora.put(p.name(), p.initial()); // B = 0: the adapted model is the base
                }
                Map<String, float[]> e = DemoFixture.run(eval, withLora);
                Map<String, float[]> r = DemoFixture.run(reference, in);
                for (int p = 0; p < pairs.size(); p++) {
                    for (String which : List.of("chosen", "rejected")) {
                        double logps = expected.get(p).get(which + "_logps").asDouble();
                        String what = activation + " " + layout + " pair " + p + " " + which;
                        worst = Math.max(worst, check(logps, e.get(which + "_logps")[p], what + " logps (eval)"));
                        worst = Math.max(worst, check(logps, r.get(which + "_logps")[p], what + " logps (reference)"));
                        worst = Math.max(worst, check(expected.get(p).get(which + "_logit_sum").asDouble(),
                                e.get(which + "_logits_sum")[p], what + " logit sum"));
                    }
                }
            }
        }
        worst = Math.max(worst, checkLogits(modelDir, config, pairs, expected, activation));
        System.out.printf("%s: largest |ours - transformers| / (|transformers| + 1) = %.3g%n", activation, worst);
    }

    /** The decoder's logits at the fixture's positions, from a graph of SmolVlmGraph's hidden states and lm_head. */
    private double checkLogits(Path modelDir, ModelConfig config, List<DpoCollator.Pair> pairs, JsonNode expected,
                               String activation) throws Exception {
        Path graphFile = root.resolve("logits.onnx");
        try (SafetensorsFile file = SafetensorsFile.open(modelDir.resolve("model.safetensors"));
             SharedWeights shared = new SharedWeights(root.resolve("logits.onnx.data"))) {
            FrozenWeights weights = new FrozenWeights(file);
            Graph g = new Graph("logits");
            SmolVlmGraph model = new SmolVlmGraph(g, config, weights, Map.of(), Map.of(), null, false);
            Value hidden = model.textHidden(model.declareTextInputs(), model.imageFeatures(model.declareVisionInputs()));
            Value logits = g.matMul(hidden, g.initializer("lm_head.weight.T", weights.transposed("lm_head.weight")));
            g.output(g.node("Identity").in(logits).outputNames("logits").out());
            ModelWriter.write(g, graphFile, shared);
        }
        // the concatenated layout: row 2p is pair p's prompt + chosen, row 2p + 1 its prompt + rejected,
        // each at its own positions, as transformers sees the sequences
        Map<String, TensorData> in = new DpoCollator(config).collate(pairs, DpoLayout.CONCATENATED);
        long rowLength = in.get(SmolVlmInputs.INPUT_IDS).dims()[1];
        int vocab = config.vocabSize();
        double worst = 0;
        try (OrtSession session = DemoFixture.session(graphFile)) {
            float[] all = DemoFixture.run(session, in).get("logits");
            for (int p = 0; p < pairs.size(); p++) {
                for (int w = 0; w < 2; w++) {
                    String which = w == 0 ? "chosen" : "rejected";
                    for (JsonNode at : expected.get(p).get(which + "_logits_at")) {
                        int position = at.get("position").asInt();
                        long base = ((2L * p + w) * rowLength + position) * vocab;
                        for (int v = 0; v < vocab; v++) {
                            worst = Math.max(worst, check(at.get("logits").get(v).asDouble(), all[(int) (base + v)],
                                    activation + " pair " + p + " " + which + " logits[" + position + "][" + v + "]"));
                        }
                    }
                }
            }
        }
        return worst;
    }

    private static double check(double theirs, float ours, String what) {
        assertTrue(Float.isFinite(ours), what);
        assertEquals(theirs, ours, RELATIVE * Math.abs(theirs) + ABSOLUTE, what);
        return Math.abs(ours - theirs) / (Math.abs(theirs) + 1);
    }

    /** The fixture checkpoint with processing files the export accepts (not read by the graphs) and the vision activation set. */
    private Path checkpoint(String activation) throws Exception {
        Path dir = root.resolve("idefics3-tiny-" + activation);
        Files.createDirectories(dir);
        Files.copy(Fixtures.path("idefics3-tiny/model.safetensors"), dir.resolve("model.safetensors"));
        ObjectNode config = (ObjectNode) JSON.readTree(Fixtures.path("idefics3-tiny/config.json").toFile());
        ((ObjectNode) config.get("vision_config")).put("hidden_act", activation);
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        ModelConfig parsed = ModelConfig.load(dir);
        TinyProcessingFiles.write(dir, parsed.vocabSize(), parsed.vision().imageSize(), parsed.imageSeqLen());
        return dir;
    }

    /** The fixture's pairs; tile pixels from the script's formula, zero outside each tile's valid rows. */
    private static List<DpoCollator.Pair> pairs(JsonNode fixture, ModelConfig config) {
        int s = config.vision().imageSize();
        List<DpoCollator.Pair> pairs = new ArrayList<>();
        for (JsonNode p : fixture.get("pairs")) {
            int tiles = p.get("tiles").asInt();
            int offset = p.get("tile_offset").asInt();
            int validRows = p.get("valid_rows").asInt();
            float[] pixels = new float[tiles * 3 * s * s];
            boolean[] mask = new boolean[tiles * s * s];
            for (int t = 0; t < tiles; t++) {
                for (int i = 0; i < 3 * s * s; i++) {
                    int row = (i % (s * s)) / s;
                    pixels[t * 3 * s * s + i] = row < validRows ? pixel(offset + t, i) : 0f;
                }
                for (int i = 0; i < s * s; i++) {
                    mask[t * s * s + i] = i / s < validRows;
                }
            }
            pairs.add(new DpoCollator.Pair(Fixtures.longs(p.get("prompt")), Fixtures.longs(p.get("chosen")),
                    Fixtures.longs(p.get("rejected")), new DpoCollator.Tiles(tiles, pixels, mask)));
        }
        return pairs;
    }

    /** tools/fixtures/idefics3_tiny.py's tile_pixels. */
    private static float pixel(int tile, int i) {
        return (float) (((i * 7919L + tile * 104729L) % 2001) / 1000.0 - 1.0);
    }
}
