package dev.smoldpo.export.peft;

import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.SafetensorsWriter;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.onnx.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Exports the LoRA adapters of a trained ORT checkpoint as a Hugging Face PEFT adapter folder, loadable with
 * {@code PeftModel.from_pretrained(AutoModelForVision2Seq.from_pretrained(base), dir)} (or
 * {@code AutoModelForImageTextToText}).
 *
 * <h2>What is written</h2>
 * <ul>
 *   <li>{@value #WEIGHTS_NAME}: every adapter tensor in F32, metadata {@code {"format": "pt"}}, tensors in name
 *       order (as {@link SafetensorsWriter} lays them out).</li>
 *   <li>{@value #CONFIG_NAME}: PEFT's {@code LoraConfig} fields (keys sorted and indented like PEFT's
 *       {@code save_pretrained}): {@code peft_type "LORA"}, {@code task_type null}, {@code r},
 *       {@code lora_alpha}, {@code lora_dropout}, {@code target_modules}, {@code bias "none"},
 *       {@code fan_in_fan_out false}, {@code init_lora_weights true}, {@code modules_to_save null},
 *       {@code inference_mode true}, {@code base_model_name_or_path}, {@code revision null},
 *       {@code use_rslora false}, {@code use_dora false}, {@code layers_to_transform null},
 *       {@code layers_pattern null}, {@code rank_pattern {}}, {@code alpha_pattern {}}.</li>
 * </ul>
 * Both files are written atomically: a new folder is staged next to {@code outDir} and renamed into place; an
 * existing folder gets each file through a temporary file and a rename (weights first, config last, so a folder
 * with a new config always has the matching weights).
 *
 * <h2>Name mapping (ours ↔ PEFT)</h2>
 * Our checkpoint names its adapter parameters after the Hugging Face module they adapt, with PEFT's own
 * suffixes and layouts ({@link LoraTargets.Target}):
 * <pre>
 *   ours (ORT checkpoint, trainable)                        PEFT (adapter_model.safetensors)
 *   &lt;module&gt;.lora_A.weight   [r, in_features]     ↔   base_model.model.&lt;module&gt;.lora_A.weight   [r, in_features]
 *   &lt;module&gt;.lora_B.weight   [out_features, r]    ↔   base_model.model.&lt;module&gt;.lora_B.weight   [out_features, r]
 *
 *   e.g. model.text_model.layers.0.self_attn.q_proj.lora_A.weight
 *    ↔   base_model.model.model.text_model.layers.0.self_attn.q_proj.lora_A.weight
 * </pre>
 * {@code <module>} is the module's name in {@code Idefics3ForConditionalGeneration.named_modules()}. PEFT's
 * {@code PeftModel} wraps a {@code LoraModel} ({@code base_model}) that wraps the transformers model
 * ({@code .model}), hence the {@code base_model.model.} prefix ({@link LoraTargets#PEFT_PREFIX}); PEFT drops the
 * adapter name ({@code .default}) when saving and puts it back when loading. The values are copied bit for bit;
 * the adapter output is {@code (lora_alpha / r) · B A x}, the same scale PEFT uses without rsLoRA.
 * {@link #read(Path)} does the reverse mapping (drops the prefix).
 *
 * <h2>task_type</h2>
 * PEFT's {@code TaskType} has no value for vision-language models (SEQ_CLS, SEQ_2_SEQ_LM, CAUSAL_LM, TOKEN_CLS,
 * QUESTION_ANS, FEATURE_EXTRACTION), and {@code task_type} is optional. We write {@code null}: PEFT then loads
 * the adapter as a plain {@code PeftModel}, whose {@code forward} and {@code generate} hand every argument
 * (pixel_values included) to the wrapped model. The tensor key prefix is the same for every task type, so
 * {@code CAUSAL_LM} would load too, but its causal-LM-specific input handling is meant for text-only models.
 *
 * <h2>Text-only adapters</h2>
 * With the manifest's {@code text_only}, the vision tower's q/k/v projections (which the same suffixes match)
 * have no adapters. A list {@code target_modules} would make PEFT add (zero, untrained) adapters to them on
 * load, and {@code exclude_modules} only exists in recent PEFT (older versions drop unknown config keys with a
 * warning and would adapt the vision tower after all). So for text-only adapters {@code target_modules} is
 * written as a regular expression, which every PEFT version applies with {@code re.fullmatch} to each module
 * name: {@code .*text_model\.(?:.*\.)?(?:q_proj|k_proj|...)} — a module inside the text model whose last name
 * component is a target, exactly {@link LoraTargets#select}'s rule. Otherwise {@code target_modules} is the
 * list, which PEFT matches as we do (the name equals a target or ends with "." + target). Before writing,
 * each exported module is checked against what the written {@code target_modules} selects, and the set of
 * modules against the manifest's {@code adapted_modules}, so PEFT adapts exactly the exported modules.
 */
public final class PeftAdapterExporter {
    /** PEFT's weights file name. */
    public static final String WEIGHTS_NAME = "adapter_model.safetensors";
    /** PEFT's config file name. */
    public static final String CONFIG_NAME = "adapter_config.json";

    private static final String LORA_A = ".lora_A.weight";
    private static final String LORA_B = ".lora_B.weight";

    private PeftAdapterExporter() {}

    /**
     * Writes the PEFT adapter of {@code ortCheckpoint} (trained with the artifacts in {@code artifactsDir}) to
     * {@code outDir} and returns {@code outDir}.
     *
     * @param baseModelNameOrPath written as {@code base_model_name_or_path}; when null, the manifest's
     *                            {@code source.path}, or null when the manifest has none
     * @throws IllegalArgumentException when the manifest is missing or lacks the LoRA settings, or the checkpoint
     *                                  holds no LoRA tensors, other trainable tensors, or tensors that disagree
     *                                  with the manifest
     */
    public static Path export(Path artifactsDir, Path ortCheckpoint, Path outDir, String baseModelNameOrPath) {
        Path manifestFile = artifactsDir.resolve("manifest.json");
        if (!Files.isRegularFile(manifestFile)) {
            throw new IllegalArgumentException("no manifest.json in " + artifactsDir
                    + ": the PEFT export needs the artifacts folder the checkpoint was trained with (its LoRA settings)");
        }
        Manifest manifest = Manifest.read(manifestFile);
        PeftAdapterConfig.LoraSettings lora = PeftAdapterConfig.LoraSettings.of(manifest, manifestFile);
        String baseModel = baseModelNameOrPath != null ? baseModelNameOrPath : sourcePath(manifest);

        if (!Files.isRegularFile(ortCheckpoint)) {
            throw new IllegalArgumentException("checkpoint " + ortCheckpoint + " does not exist");
        }
        Checkpoint checkpoint = CheckpointReader.read(ortCheckpoint);
        Map<String, Adapter> adapters = adapters(checkpoint, ortCheckpoint, lora.r());

        Object targetModules = lora.textOnly() ? textOnlyRegex(lora.targetModules()) : lora.targetModules();
        PeftAdapterConfig.checkSelection(adapters.keySet(), targetModules, lora, ortCheckpoint, manifestFile);

        SafetensorsWriter weights = new SafetensorsWriter();
        for (Map.Entry<String, Adapter> e : adapters.entrySet()) {
            Adapter a = e.getValue();
            weights.add(LoraTargets.PEFT_PREFIX + e.getKey() + LORA_A, SafetensorsDtype.F32, a.a().dims(),
                    a.a().toFloatArray());
            weights.add(LoraTargets.PEFT_PREFIX + e.getKey() + LORA_B, SafetensorsDtype.F32, a.b().dims(),
                    a.b().toFloatArray());
        }
        byte[] config = PeftAdapterConfig.json(lora, targetModules, baseModel);
        try {
            writeAtomically(outDir, weights, config);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the PEFT adapter to " + outDir + ": " + e.getMessage(), e);
        }
        return outDir;
    }

    /**
     * Reads {@value #WEIGHTS_NAME} of a PEFT adapter folder: our names (without {@code base_model.model.}) →
     * values as f32, in the file's order.
     */
    public static Map<String, float[]> read(Path adapterDir) {
        Path file = adapterDir.resolve(WEIGHTS_NAME);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no " + WEIGHTS_NAME + " in " + adapterDir);
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (String name : st.names()) {
                if (!name.startsWith(LoraTargets.PEFT_PREFIX)) {
                    throw new IllegalArgumentException(file + ": tensor '" + name + "' does not start with '"
                            + LoraTargets.PEFT_PREFIX + "', so it is not a PEFT adapter tensor");
                }
                out.put(name.substring(LoraTargets.PEFT_PREFIX.length()), st.readFloat32(name));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * The regular expression written as {@code target_modules} for text-only adapters (see {@link
     * PeftAdapterConfig#textOnlyRegex}).
     */
    public static String textOnlyRegex(List<String> targets) {
        return PeftAdapterConfig.textOnlyRegex(targets);
    }

    private static String sourcePath(Manifest manifest) {
        Object source = manifest.extra() == null ? null : manifest.extra().get("source");
        return source instanceof Map<?, ?> m && m.get("path") instanceof String s ? s : null;
    }

    /** One adapted module's two tensors. */
    private record Adapter(CheckpointTensor a, CheckpointTensor b) {}

    /** The LoRA pairs of the checkpoint's trainable tensors, by module in checkpoint order, checked. */
    private static Map<String, Adapter> adapters(Checkpoint checkpoint, Path file, int r) {
        Map<String, CheckpointTensor> as = new LinkedHashMap<>();
        Map<String, CheckpointTensor> bs = new LinkedHashMap<>();
        List<String> other = new ArrayList<>();
        for (CheckpointTensor t : checkpoint.trainable()) {
            if (t.name().endsWith(LORA_A)) {
                as.put(t.name().substring(0, t.name().length() - LORA_A.length()), t);
            } else if (t.name().endsWith(LORA_B)) {
                bs.put(t.name().substring(0, t.name().length() - LORA_B.length()), t);
            } else {
                other.add(t.name());
            }
        }
        if (as.isEmpty() && bs.isEmpty()) {
            throw new IllegalArgumentException("checkpoint " + file + " holds no LoRA tensors (trainable parameters named "
                    + "'<module>" + LORA_A + "' / '<module>" + LORA_B + "'; it has " + checkpoint.trainable().size()
                    + " trainable parameters" + (other.isEmpty() ? "" : ", e.g. '" + other.getFirst() + "'")
                    + "): it is not a LoRA training checkpoint");
        }
        if (!other.isEmpty()) {
            throw new IllegalArgumentException("checkpoint " + file + " has trainable parameters that are not LoRA "
                    + "tensors, which a PEFT LoRA adapter cannot hold: " + PeftAdapterConfig.preview(other));
        }
        Set<String> modules = new LinkedHashSet<>(as.keySet());
        modules.addAll(bs.keySet());
        Map<String, Adapter> out = new LinkedHashMap<>();
        for (String module : modules) {
            CheckpointTensor a = as.get(module);
            CheckpointTensor b = bs.get(module);
            if (a == null || b == null) {
                throw new IllegalArgumentException("checkpoint " + file + ": module '" + module + "' has "
                        + (a == null ? LORA_B.substring(1) + " but no " + LORA_A.substring(1)
                                : LORA_A.substring(1) + " but no " + LORA_B.substring(1)));
            }
            for (CheckpointTensor t : List.of(a, b)) {
                if (t.dtype() != DType.FLOAT) {
                    throw new IllegalArgumentException("checkpoint " + file + ": '" + t.name() + "' is " + t.dtype()
                            + ", expected FLOAT");
                }
                if (t.dims().length != 2) {
                    throw new IllegalArgumentException("checkpoint " + file + ": '" + t.name() + "' has shape "
                            + Arrays.toString(t.dims()) + ", expected 2 dims");
                }
            }
            if (a.dims()[0] != r || b.dims()[1] != r) {
                throw new IllegalArgumentException("checkpoint " + file + ": module '" + module + "' has lora_A "
                        + Arrays.toString(a.dims()) + " and lora_B " + Arrays.toString(b.dims())
                        + ", expected [r, in] and [out, r] with the manifest's r = " + r);
            }
            out.put(module, new Adapter(a, b));
        }
        return out;
    }

    private static void writeAtomically(Path outDir, SafetensorsWriter weights, byte[] config) throws IOException {
        Path target = outDir.toAbsolutePath();
        if (Files.exists(target) && !Files.isDirectory(target)) {
            throw new FileAlreadyExistsException(target + " exists and is not a folder");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        if (Files.isDirectory(target)) {
            // Replace the two files in place, each through a temporary file and a rename.
            weights.write(target.resolve(WEIGHTS_NAME));
            Path tmp = Files.createTempFile(target, "." + CONFIG_NAME + ".", ".tmp");
            try {
                Files.write(tmp, config);
                move(tmp, target.resolve(CONFIG_NAME));
            } finally {
                Files.deleteIfExists(tmp);
            }
            return;
        }
        Path staging = Files.createTempDirectory(parent, "." + target.getFileName() + ".");
        try {
            weights.write(staging.resolve(WEIGHTS_NAME));
            Files.write(staging.resolve(CONFIG_NAME), config);
            move(staging, target);
        } finally {
            deleteTree(staging);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
