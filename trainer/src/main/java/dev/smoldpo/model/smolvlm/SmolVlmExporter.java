package dev.smoldpo.model.smolvlm;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.ModelDefinition;
import dev.smoldpo.hf.HfFormatException;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.WeightCheck;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.ModelWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face SmolVLM checkpoint folder → ORT training artifacts for LoRA DPO, plus the frozen
 * reference graph, manifest.json, and the tokenizer and processor files the trainer needs.
 */
public final class SmolVlmExporter {
    /**
     * Settings of an export; {@code precision} is the type the frozen weights are stored and computed in;
     * {@code grpo} non-null exports GRPO's loss ({@link SmolVlmGrpoModel}) instead of DPO's ({@code dpo} unused);
     * {@code recompute} names the activations the training graph recomputes instead of keeping (null: none).
     */
    public record Options(String name, LoraConfig lora, DpoConfig dpo, AdamWConfig adamw, long seed, Precision precision,
                          Grpo grpo, ActivationRecompute recompute) {
        public Options {
            if (precision == null) {
                throw new IllegalArgumentException("precision must be set (fp32, bf16 or fp16)");
            }
            recompute = recompute == null ? ActivationRecompute.NONE : recompute;
        }

        public Options(String name, LoraConfig lora, DpoConfig dpo, AdamWConfig adamw, long seed, Precision precision,
                       Grpo grpo) {
            this(name, lora, dpo, adamw, seed, precision, grpo, null);
        }

        public Options withRecompute(ActivationRecompute chosen) {
            return new Options(name, lora, dpo, adamw, seed, precision, grpo, chosen);
        }

        /** A DPO export. */
        public Options(String name, LoraConfig lora, DpoConfig dpo, AdamWConfig adamw, long seed, Precision precision) {
            this(name, lora, dpo, adamw, seed, precision, null);
        }

        /** A float32 DPO export. */
        public Options(String name, LoraConfig lora, DpoConfig dpo, AdamWConfig adamw, long seed) {
            this(name, lora, dpo, adamw, seed, Precision.FP32);
        }
    }

    /** A GRPO export: whether its loss has the KL term to the reference (TRL's β ≠ 0). */
    public record Grpo(boolean kl) {}

    /** The manifest key of the training objective: "dpo" (also when absent: exports before GRPO) or "grpo". */
    public static final String OBJECTIVE = "objective";

    /** The manifest key recording {@link Options#precision()}; an absent key means fp32 (exports before it existed). */
    public static final String PRECISION = "precision";

    /** The manifest key recording {@link Options#recompute()}; an absent key means none (exports before it existed). */
    public static final String RECOMPUTE = "recompute";

    public static final String REFERENCE = "reference_model.onnx";
    /**
     * Files copied from the checkpoint when present (config.json, tokenizer.json and the two processor
     * files are required, and checked by {@link ProcessingFilesCheck} before anything is written).
     */
    static final List<String> COPIED = List.of("config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "added_tokens.json", "chat_template.json", "preprocessor_config.json",
            "processor_config.json", "generation_config.json", "vocab.json", "merges.txt");

    private SmolVlmExporter() {}

    public static ArtifactFiles export(Path modelDir, Path outDir, Options options) throws IOException {
        if (!Files.isDirectory(modelDir)) {
            throw new HfFormatException(modelDir + ": not a model folder");
        }
        Path weightsFile = modelDir.resolve("model.safetensors");
        if (!Files.exists(weightsFile)) {
            for (String pickle : List.of("pytorch_model.bin", "model.bin", "pytorch_model.pt")) {
                if (Files.exists(modelDir.resolve(pickle))) {
                    SafetensorsFile.refuseNonSafetensors(modelDir.resolve(pickle));
                }
            }
            if (Files.exists(modelDir.resolve("model.safetensors.index.json"))) {
                throw new HfFormatException(modelDir + ": sharded checkpoints (model.safetensors.index.json) are not supported yet");
            }
            throw new HfFormatException(modelDir + ": model.safetensors is missing");
        }
        SafetensorsFile.refuseNonSafetensors(weightsFile);
        for (String required : List.of("config.json", ProcessingFilesCheck.TOKENIZER, ProcessingFilesCheck.PREPROCESSOR,
                ProcessingFilesCheck.PROCESSOR)) {
            if (!Files.isRegularFile(modelDir.resolve(required))) {
                throw new HfFormatException(modelDir + ": " + required + " is missing");
            }
        }
        ModelConfig config = ModelConfig.load(modelDir);
        VisionActivation.of(config); // an unsupported vision_config.hidden_act fails here, before any work
        ProcessingFilesCheck.verify(modelDir, config);
        try (SafetensorsFile file = SafetensorsFile.openRejectingNonFinite(weightsFile)) {
            WeightCheck.verify(config, file);
            FrozenWeights frozen = new FrozenWeights(file);
            SmolVlmDpoModel model = new SmolVlmDpoModel(config, frozen, options.lora(), options.dpo(),
                    options.seed(), options.precision().types(), options.recompute());
            Map<String, Object> extra = manifestExtra(modelDir, config, model, options);
            ModelDefinition trained = options.grpo() == null ? model : new SmolVlmGrpoModel(config, frozen, options.lora(),
                    options.grpo().kl(), options.seed(), options.precision().types(), options.recompute());
            return ArtifactBuilder.build(trained, options.adamw(), outDir, options.name(), extra, (dir, weights) -> {
                ModelWriter.write(model.referenceGraph(), dir.resolve(REFERENCE), weights);
                // Writing the graphs' external data has read (and checked) every weight they use; this
                // checks any the graphs left out, so no expected tensor escapes the finiteness check.
                for (ModelConfig.WeightSpec w : config.expectedWeights()) {
                    file.requireFinite(w.name());
                }
                for (String name : COPIED) {
                    Path source = modelDir.resolve(name);
                    if (Files.isRegularFile(source)) {
                        Files.copy(source, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            });
        } catch (UncheckedIOException e) {
            throw checkpointProblem(e);
        }
    }

    /**
     * The checkpoint's own error (a NaN weight found while the external data was written) when it is
     * the cause of {@code e}: the writers wrap it in "cannot write ..." messages that name only the
     * temporary output file, so the user would not learn which tensor is bad.
     */
    private static RuntimeException checkpointProblem(UncheckedIOException e) throws HfFormatException {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof HfFormatException hf) {
                throw hf;
            }
        }
        return e;
    }

    private static Map<String, Object> manifestExtra(Path modelDir, ModelConfig config, SmolVlmDpoModel model,
                                                     Options options) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("path", modelDir.toAbsolutePath().toString());
        source.put("config_sha256", sha256(modelDir.resolve("config.json")));
        source.put("weights_sha256", sha256(modelDir.resolve("model.safetensors")));
        m.put("source", source);
        Map<String, Object> modelInfo = new LinkedHashMap<>();
        modelInfo.put("model_type", config.modelType());
        modelInfo.put("image_token_id", config.imageTokenId());
        modelInfo.put("image_seq_len", config.imageSeqLen());
        modelInfo.put("tile_size", config.vision().imageSize());
        modelInfo.put("patch_size", config.vision().patchSize());
        modelInfo.put("vocab_size", config.vocabSize());
        modelInfo.put("max_position_embeddings", config.text().maxPositionEmbeddings());
        m.put("model", modelInfo);
        Map<String, Object> lora = new LinkedHashMap<>();
        lora.put("r", options.lora().r());
        lora.put("lora_alpha", options.lora().alpha());
        lora.put("lora_dropout", options.lora().dropout());
        lora.put("target_modules", options.lora().targetModules());
        lora.put("text_only", options.lora().textOnly());
        lora.put("init_seed", options.seed());
        lora.put("adapted_modules", model.targets().stream().map(LoraTargets.Target::module).toList());
        m.put("lora", lora);
        Map<String, Object> dpo = new LinkedHashMap<>();
        dpo.put("loss_type", options.dpo().lossType().trlName());
        dpo.put("label_smoothing", options.dpo().labelSmoothing());
        dpo.put("reference_free", options.dpo().referenceFree());
        dpo.put("layouts", List.of(DpoLayout.SHARED_PREFIX.configName(), DpoLayout.CONCATENATED.configName()));
        m.put("dpo", dpo);
        m.put(OBJECTIVE, options.grpo() == null ? "dpo" : "grpo");
        if (options.grpo() != null) {
            m.put("grpo", Map.of("kl", options.grpo().kl(), "importance_sampling_level", "token"));
        }
        m.put(PRECISION, options.precision().configName());
        m.put(RECOMPUTE, options.recompute().configName());
        m.put("reference_model", REFERENCE);
        m.put("reference_outputs_image_features", !model.adaptsVision());
        return m;
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
