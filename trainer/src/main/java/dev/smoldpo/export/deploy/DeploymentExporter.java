package dev.smoldpo.export.deploy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.OutputFolder;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.smolvlm.FrozenWeights;
import dev.smoldpo.model.smolvlm.MergedWeights;
import dev.smoldpo.model.smolvlm.SmolVlmDeployment;
import dev.smoldpo.model.smolvlm.SmolVlmGraph;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A deployment folder in the layout transformers.js and Optimum use for SmolVLM
 * (transformers.js src/models.js, its Idefics3/SmolVLM model classes): {@code onnx/vision_encoder.onnx},
 * {@code onnx/embed_tokens.onnx} and {@code onnx/decoder_model_merged.onnx} (prefill and decode in one
 * graph, with past/present key-value tensors), the LoRA adapters merged into the weights
 * (W + scale · B · A), plus config, generation config, tokenizer and processor files. Each graph may also
 * be written in float16 and quantized precisions ({@link DeploymentVariants}), under transformers.js'
 * file names for its {@code dtype} option.
 */
public final class DeploymentExporter {
    public static final String VISION = "vision_encoder";
    public static final String EMBED = "embed_tokens";
    public static final String DECODER = "decoder_model_merged";
    private static final List<String> COPIED = List.of("config.json", "generation_config.json", "tokenizer.json",
            "special_tokens_map.json", "added_tokens.json", "chat_template.json", "preprocessor_config.json",
            "processor_config.json");

    private DeploymentExporter() {}

    /**
     * @param artifactsDir an export of export-artifacts (its base weights are read from the source checkpoint it names)
     * @param ortCheckpoint trained LoRA tensors (an ORT checkpoint file, or a fit checkpoint-N folder), or null for the base model
     */
    public static Path export(Path artifactsDir, Path ortCheckpoint, Path outDir) throws IOException {
        return export(artifactsDir, ortCheckpoint, outDir, null);
    }

    /**
     * As above; {@code imageLongestEdge} (when not null) is the longest edge training resized images
     * to (fit's image_longest_edge), written into the folder's preprocessor_config.json so that
     * generation — ours and transformers.js' — preprocesses images as training did.
     */
    public static Path export(Path artifactsDir, Path ortCheckpoint, Path outDir, Integer imageLongestEdge) throws IOException {
        return export(artifactsDir, ortCheckpoint, outDir, imageLongestEdge, DeploymentVariants.FP32);
    }

    /**
     * As above, writing each graph in every precision of {@code variants}
     * ({@code onnx/<graph><suffix>.onnx}, transformers.js' names).
     */
    public static Path export(Path artifactsDir, Path ortCheckpoint, Path outDir, Integer imageLongestEdge,
                              DeploymentVariants variants) throws IOException {
        Manifest manifest = Manifest.read(artifactsDir.resolve(ArtifactFiles.MANIFEST));
        ModelConfig config = ModelConfig.load(artifactsDir);
        Map<?, ?> source = (Map<?, ?>) manifest.extra().get("source");
        Map<?, ?> lora = (Map<?, ?>) manifest.extra().get("lora");
        if (source == null || lora == null) {
            throw new IllegalArgumentException(artifactsDir + " is not a SmolVLM export (its manifest has no source or lora)");
        }
        Path weightsFile = Path.of(String.valueOf(source.get("path"))).resolve("model.safetensors");
        if (!Files.isRegularFile(weightsFile)) {
            throw new IllegalArgumentException("the base weights " + weightsFile + " the artifacts were exported from are gone");
        }
        Path checkpointFile = ortCheckpoint == null ? artifactsDir.resolve(ArtifactFiles.CHECKPOINT)
                : Files.isDirectory(ortCheckpoint) ? ortCheckpoint.resolve("ort_checkpoint") : ortCheckpoint;
        Checkpoint trained = CheckpointReader.read(checkpointFile);
        double scale = ((Number) lora.get("lora_alpha")).doubleValue() / ((Number) lora.get("r")).doubleValue();
        Map<String, MergedWeights.Adapter> adapters = new LinkedHashMap<>();
        for (Object m : (List<?>) lora.get("adapted_modules")) {
            String module = String.valueOf(m);
            var a = trained.parameter(module + ".lora_A.weight");
            var b = trained.parameter(module + ".lora_B.weight");
            adapters.put(module, new MergedWeights.Adapter(a.toFloatArray(), b.toFloatArray(), (int) a.dims()[0], scale));
        }
        Path tmp = OutputFolder.temporaryFor(outDir);
        try (SafetensorsFile file = SafetensorsFile.open(weightsFile)) {
            MergedWeights weights = new MergedWeights(new FrozenWeights(file), adapters);
            Path onnx = Files.createDirectories(tmp.resolve("onnx"));
            variants.write(visionGraph(config, weights), onnx, Set.of(), Set.of());
            variants.write(embedGraph(config, weights), onnx, Set.of(), Set.of());
            Graph decoder = decoderGraph(config, weights);
            variants.write(decoder, onnx, DeploymentVariants.named(decoder.inputs(), "past_key_values."),
                    DeploymentVariants.named(decoder.outputs(), "present."));
            for (String name : COPIED) {
                Path from = artifactsDir.resolve(name);
                if (Files.isRegularFile(from)) {
                    Files.copy(from, tmp.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            writeConfigs(artifactsDir, tmp, imageLongestEdge, variants);
            OutputFolder.replace(tmp, outDir);
            return outDir;
        } catch (IOException | RuntimeException e) {
            OutputFolder.delete(tmp);
            throw e;
        }
    }

    /** The frozen (merged) model's deployment graphs over {@code g}: no adapters, no dropout. */
    private static SmolVlmDeployment deployment(Graph g, ModelConfig config, MergedWeights weights) {
        return new SmolVlmDeployment(new SmolVlmGraph(g, config, weights, Map.of(), Map.of(), null, false));
    }

    static Graph visionGraph(ModelConfig config, MergedWeights weights) {
        Graph g = new Graph(VISION);
        int s = config.vision().imageSize();
        Value pixels = g.input("pixel_values", DType.FLOAT, Shape.of("batch_size", "num_images", 3, s, s));
        Value mask = g.input("pixel_attention_mask", DType.BOOL, Shape.of("batch_size", "num_images", s, s));
        Value features = deployment(g, config, weights).imageFeatures(pixels, mask);
        g.output(g.node("Identity").in(features).outputNames("image_features").out());
        return g;
    }

    static Graph embedGraph(ModelConfig config, MergedWeights weights) {
        Graph g = new Graph(EMBED);
        Value ids = g.input("input_ids", DType.INT64, Shape.of("batch_size", "sequence_length"));
        g.output(g.node("Identity").in(deployment(g, config, weights).embedTokens(ids)).outputNames("inputs_embeds").out());
        return g;
    }

    static Graph decoderGraph(ModelConfig config, MergedWeights weights) {
        Graph g = new Graph(DECODER);
        ModelConfig.TextConfig t = config.text();
        Value embeds = g.input("inputs_embeds", DType.FLOAT, Shape.of("batch_size", "sequence_length", t.hiddenSize()));
        Value mask = g.input("attention_mask", DType.INT64, Shape.of("batch_size", "total_sequence_length"));
        Value positions = g.input("position_ids", DType.INT64, Shape.of("batch_size", "sequence_length"));
        List<Value> keys = new ArrayList<>();
        List<Value> values = new ArrayList<>();
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            Shape cache = Shape.of("batch_size", t.numKeyValueHeads(), "past_sequence_length", t.headDim());
            keys.add(g.input("past_key_values." + l + ".key", DType.FLOAT, cache));
            values.add(g.input("past_key_values." + l + ".value", DType.FLOAT, cache));
        }
        Value keep = g.input("num_logits_to_keep", DType.INT64, Shape.SCALAR);
        SmolVlmDeployment.DecoderStep step = deployment(g, config, weights).decoderWithCache(embeds, mask, positions, keys,
                values, keep);
        g.output(g.node("Identity").in(step.logits()).outputNames("logits").out());
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            g.output(g.node("Identity").in(step.presentKeys().get(l)).outputNames("present." + l + ".key").out());
            g.output(g.node("Identity").in(step.presentValues().get(l)).outputNames("present." + l + ".value").out());
        }
        return g;
    }

    /**
     * config.json gains transformers.js_config (external data next to each model; the dtype loaded when
     * none is asked for; for transformers.js 3, which does not read it from the model, the key/value
     * cache type of the float16 variants), and tokenizer_config.json carries the chat template, where
     * transformers.js reads it.
     */
    private static void writeConfigs(Path artifactsDir, Path out, Integer imageLongestEdge, DeploymentVariants variants)
            throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path processor = out.resolve("preprocessor_config.json");
        if (imageLongestEdge != null && Files.isRegularFile(processor)) {
            ObjectNode p = (ObjectNode) json.readTree(processor.toFile());
            p.putObject("size").put("longest_edge", imageLongestEdge);
            json.writerWithDefaultPrettyPrinter().writeValue(processor.toFile(), p);
        }
        ObjectNode config = (ObjectNode) json.readTree(artifactsDir.resolve("config.json").toFile());
        ObjectNode js = config.putObject("transformers.js_config");
        js.put("use_external_data_format", true);
        js.put("dtype", variants.defaultPrecision().id());
        ObjectNode kvCache = json.createObjectNode();
        for (DeploymentDtype p : variants.precisions()) {
            if (p.compute() == DType.FLOAT16) {
                kvCache.put(p.id(), "float16");
            }
        }
        if (!kvCache.isEmpty()) {
            js.set("kv_cache_dtype", kvCache);
        }
        json.writerWithDefaultPrettyPrinter().writeValue(out.resolve("config.json").toFile(), config);
        Path tokenizerConfig = artifactsDir.resolve("tokenizer_config.json");
        ObjectNode tc = Files.isRegularFile(tokenizerConfig) ? (ObjectNode) json.readTree(tokenizerConfig.toFile())
                : json.createObjectNode();
        Path chatTemplate = artifactsDir.resolve("chat_template.json");
        if (!tc.has("chat_template") && Files.isRegularFile(chatTemplate)) {
            tc.set("chat_template", json.readTree(chatTemplate.toFile()).get("chat_template"));
        }
        json.writerWithDefaultPrettyPrinter().writeValue(out.resolve("tokenizer_config.json").toFile(), tc);
    }
}
