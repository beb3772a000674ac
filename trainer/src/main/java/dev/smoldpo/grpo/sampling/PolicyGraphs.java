package dev.smoldpo.grpo.sampling;

import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.OutputFolder;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.model.smolvlm.FrozenWeights;
import dev.smoldpo.model.smolvlm.NumericTypes;
import dev.smoldpo.model.smolvlm.Precision;
import dev.smoldpo.model.smolvlm.SamplingGraphs;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sampler's two graphs ({@link SamplingGraphs}) for an export-artifacts folder, built when the
 * sampler opens rather than by export-artifacts, so every existing artifacts folder can sample and
 * the export stays as it is. Like the deployment export, the frozen weights come from the source
 * checkpoint the manifest names (the artifacts' own weights file is laid out for the training
 * graphs); they are written once into a temporary folder that {@link #close()} deletes.
 *
 * <p>Precision: an fp32 export samples in float32, exactly the training graph's arithmetic. A bf16/fp16
 * export keeps its half-precision weight bytes, widened to FLOAT in the graph (float32 compute and
 * KV cache), so the sampler runs on the CPU too; its logits then differ from the half-precision
 * training graph's by that graph's rounding.
 */
public final class PolicyGraphs implements AutoCloseable {
    static final String VISION = "sampling_vision.onnx";
    static final String DECODER = "sampling_decoder.onnx";

    final Path dir;
    final ModelConfig config;
    final List<LoraTargets.Target> targets;

    private PolicyGraphs(Path dir, ModelConfig config, List<LoraTargets.Target> targets) {
        this.dir = dir;
        this.config = config;
        this.targets = targets;
    }

    public Path vision() {
        return dir.resolve(VISION);
    }

    public Path decoder() {
        return dir.resolve(DECODER);
    }

    /** Builds the graphs of {@code artifactsDir} into a new temporary folder. */
    public static PolicyGraphs build(Path artifactsDir) throws IOException {
        Path manifestFile = artifactsDir.resolve(ArtifactFiles.MANIFEST);
        if (!Files.isRegularFile(manifestFile)) {
            throw new IllegalArgumentException(artifactsDir + " is not an export-artifacts folder: " + ArtifactFiles.MANIFEST
                    + " is missing");
        }
        Manifest manifest = Manifest.read(manifestFile);
        Map<?, ?> source = (Map<?, ?>) manifest.extra().get("source");
        Map<?, ?> lora = (Map<?, ?>) manifest.extra().get("lora");
        if (source == null || lora == null) {
            throw new IllegalArgumentException(manifestFile + " has no source or lora section: not a SmolVLM export");
        }
        Path weightsFile = Path.of(String.valueOf(source.get("path"))).resolve("model.safetensors");
        if (!Files.isRegularFile(weightsFile)) {
            throw new IllegalArgumentException("the base weights " + weightsFile + " that " + manifestFile
                    + " names (source.path) are gone; the sampler builds its graphs from them");
        }
        ModelConfig config = ModelConfig.load(artifactsDir);
        LoraConfig loraConfig = loraConfig(manifestFile, lora);
        List<LoraTargets.Target> targets = targets(manifestFile, config, loraConfig, lora);
        Object precisionName = manifest.extra().get(SmolVlmExporter.PRECISION);
        Precision precision = precisionName == null ? Precision.FP32 : Precision.fromConfig(String.valueOf(precisionName));
        NumericTypes types = precision == Precision.FP32 ? NumericTypes.FP32 : NumericTypes.widened(precision.computeType());
        Path dir = Files.createTempDirectory("smoldpo-sampler-");
        try (SafetensorsFile file = SafetensorsFile.open(weightsFile);
             SharedWeights weights = new SharedWeights(dir.resolve("sampling_weights.onnx.data"))) {
            FrozenWeights frozen = new FrozenWeights(file);
            ModelWriter.write(SamplingGraphs.vision(config, frozen, types, loraConfig, targets), dir.resolve(VISION), weights);
            ModelWriter.write(SamplingGraphs.decoder(config, frozen, types, loraConfig, targets), dir.resolve(DECODER), weights);
            return new PolicyGraphs(dir, config, targets);
        } catch (IOException | RuntimeException e) {
            OutputFolder.delete(dir);
            throw e;
        }
    }

    private static LoraConfig loraConfig(Path manifestFile, Map<?, ?> lora) {
        try {
            List<String> modules = ((List<?>) lora.get("target_modules")).stream().map(String::valueOf).toList();
            return new LoraConfig(((Number) lora.get("r")).intValue(), ((Number) lora.get("lora_alpha")).doubleValue(),
                    ((Number) lora.get("lora_dropout")).doubleValue(), modules, Boolean.TRUE.equals(lora.get("text_only")));
        } catch (ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException(manifestFile + ": lora needs r, lora_alpha, lora_dropout, target_modules and"
                    + " text_only (" + e.getMessage() + ")", e);
        }
    }

    /** The adapted layers, as export-artifacts chose them; they must be the manifest's adapted_modules. */
    private static List<LoraTargets.Target> targets(Path manifestFile, ModelConfig config, LoraConfig loraConfig, Map<?, ?> lora) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (ModelConfig.WeightSpec w : config.expectedWeights()) {
            shapes.put(w.name(), w.shape());
        }
        List<LoraTargets.Target> targets = LoraTargets.select(shapes, loraConfig);
        List<String> modules = targets.stream().map(LoraTargets.Target::module).toList();
        Object recorded = lora.get("adapted_modules");
        if (recorded instanceof List<?> list && !list.stream().map(String::valueOf).toList().equals(modules)) {
            throw new IllegalArgumentException(manifestFile + ": lora.adapted_modules " + list + " are not the layers "
                    + loraConfig.targetModules() + " select in config.json " + modules);
        }
        return targets;
    }

    @Override
    public void close() {
        OutputFolder.delete(dir);
    }
}
