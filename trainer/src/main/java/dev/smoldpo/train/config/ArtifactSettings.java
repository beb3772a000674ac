package dev.smoldpo.train.config;

import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.model.smolvlm.ActivationRecompute;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.DpoLossType;
import dev.smoldpo.model.smolvlm.Precision;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The settings the artifacts fix when they are exported: LoRA rank, alpha, dropout and targets, the
 * loss type and its options, the precision and the recomputed activations are compiled into the training graphs, and the manifest
 * lists the layouts the graphs serve. A run takes these from the manifest; a value given explicitly
 * (config file or flag) must equal the manifest's, or the run fails naming both, instead of recording a
 * setting that was never used. Artifacts of a half precision fail on {@code device: cpu} before any
 * session is opened, saying why and what to do.
 */
public final class ArtifactSettings {
    private ArtifactSettings() {}

    /** The artifact-owned keys and the manifest's values for them, as {@link TrainConfig} types. */
    public static Map<String, Object> exported(Manifest manifest, Path manifestFile) {
        Map<?, ?> lora = section(manifest, "lora", manifestFile);
        Map<?, ?> dpo = section(manifest, "dpo", manifestFile);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("lora_r", ((Number) lora.get("r")).intValue());
        m.put("lora_alpha", ((Number) lora.get("lora_alpha")).doubleValue());
        m.put("lora_dropout", ((Number) lora.get("lora_dropout")).doubleValue());
        m.put("lora_target_modules", strings(lora.get("target_modules")));
        m.put("lora_text_only", Boolean.TRUE.equals(lora.get("text_only")));
        m.put("loss_type", DpoLossType.fromTrl(String.valueOf(dpo.get("loss_type"))));
        m.put("label_smoothing", ((Number) dpo.get("label_smoothing")).doubleValue());
        m.put("reference_free", Boolean.TRUE.equals(dpo.get("reference_free")));
        m.put("precision", precision(manifest, manifestFile));
        m.put("recompute", recompute(manifest, manifestFile));
        return m;
    }

    /**
     * The AdamW settings export-artifacts was given (--weight-decay, --max-grad-norm, --adam-*), as fit's
     * keys. grpo trains with the export's optimizer graph; fit builds its own from these keys, so they are
     * the defaults a config file or flag may change, not fixed like {@link #exported}. Their export
     * defaults are TrainingArguments', so an export without them changes nothing.
     */
    public static Map<String, Object> optimizerDefaults(Manifest manifest) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (manifest.optimizer() == null) {
            return m;
        }
        m.put("adam_beta1", manifest.optimizer().beta1());
        m.put("adam_beta2", manifest.optimizer().beta2());
        m.put("adam_epsilon", manifest.optimizer().epsilon());
        m.put("weight_decay", manifest.optimizer().weightDecay());
        m.put("max_grad_norm", manifest.optimizer().maxGradNorm());
        return m;
    }

    /** The activations the artifacts' training graph recomputes; none for manifests written before the key existed. */
    public static ActivationRecompute recompute(Manifest manifest, Path manifestFile) {
        return extra(manifest, manifestFile, SmolVlmExporter.RECOMPUTE, ActivationRecompute.NONE, ActivationRecompute::fromConfig);
    }

    /** The precision the artifacts were exported with; fp32 for manifests written before the key existed. */
    public static Precision precision(Manifest manifest, Path manifestFile) {
        return extra(manifest, manifestFile, SmolVlmExporter.PRECISION, Precision.FP32, Precision::fromConfig);
    }

    /** A setting the exporter records among the manifest's extras: {@code absent} when missing, a named error when unknown. */
    private static <T> T extra(Manifest manifest, Path manifestFile, String key, T absent, Function<String, T> parse) {
        Object v = manifest.extra() == null ? null : manifest.extra().get(key);
        if (v == null) {
            return absent;
        }
        try {
            return parse.apply(String.valueOf(v));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(manifestFile + ": " + e.getMessage());
        }
    }

    /** The layouts the artifacts' graphs serve (both, for every export so far). */
    public static List<DpoLayout> layouts(Manifest manifest, Path manifestFile) {
        Object listed = section(manifest, "dpo", manifestFile).get("layouts");
        if (listed == null) {
            return List.of(DpoLayout.values());
        }
        return strings(listed).stream().map(DpoLayout::fromConfig).toList();
    }

    /**
     * Sets every artifact-owned key that was not given explicitly to the manifest's value, and fails for
     * one given explicitly with another value.
     */
    public static void apply(ConfigLayers layers, Manifest manifest, Path manifestFile) {
        String source = "artifacts " + manifestFile;
        TrainConfig asGiven = layers.bind();
        for (Map.Entry<String, Object> e : exported(manifest, manifestFile).entrySet()) {
            String key = e.getKey();
            if (!layers.isExplicit(key)) {
                layers.set(key, e.getValue(), source, false);
            } else if (!same(asGiven.get(key), e.getValue())) {
                throw mismatch(key, asGiven.get(key), layers.source(key), e.getValue(), manifestFile);
            }
        }
        // fit writes its own optimizer graph from its keys, so the export's values are only defaults here
        String optimizerSource = source + " (export-artifacts' optimizer settings)";
        optimizerDefaults(manifest).forEach((key, value) -> {
            if (!layers.isExplicit(key) && !same(asGiven.get(key), value)) {
                layers.set(key, value, optimizerSource, false);
            }
        });
        List<DpoLayout> layouts = layouts(manifest, manifestFile);
        if (!layouts.contains(asGiven.layout())) {
            if (layers.isExplicit("layout")) {
                throw new ConfigException(layers.source("layout") + ": layout " + asGiven.layout().configName()
                        + " is not served by the artifacts in " + manifestFile.getParent() + " (they serve "
                        + layouts.stream().map(DpoLayout::configName).toList() + ")");
            }
            layers.set("layout", layouts.get(0), source, false);
        }
        requireDevice(layers.bind().device(), manifest, manifestFile);
    }

    /** Fails when a bound configuration differs from the manifest on an artifact-owned key. */
    public static void verify(TrainConfig config, Manifest manifest, Path manifestFile) {
        for (Map.Entry<String, Object> e : exported(manifest, manifestFile).entrySet()) {
            if (!same(config.get(e.getKey()), e.getValue())) {
                throw mismatch(e.getKey(), config.get(e.getKey()), "the training config", e.getValue(), manifestFile);
            }
        }
        List<DpoLayout> layouts = layouts(manifest, manifestFile);
        if (!layouts.contains(config.layout())) {
            throw new ConfigException("layout " + config.layout().configName() + " is not served by the artifacts in "
                    + manifestFile.getParent());
        }
        requireDevice(config.device(), manifest, manifestFile);
    }

    /**
     * Half-precision artifacts are for CUDA. ONNX Runtime's CPU execution provider has no bfloat16
     * MatMul, so bf16 sessions cannot even be created there; it has float16 MatMul, but runs most other
     * float16 ops by casting to float32 and back, so fp16 artifacts would train slower than fp32 ones
     * and no more accurately. fit and grpo both check this before opening a session.
     */
    public static void requireDevice(TrainConfig.Device device, Manifest manifest, Path manifestFile) {
        Precision precision = precision(manifest, manifestFile);
        if (device == TrainConfig.Device.CPU && !precision.runsOnCpu()) {
            String why = precision == Precision.BF16
                    ? "ONNX Runtime's CPU execution provider has no bf16 MatMul kernel, so these graphs cannot run there"
                    : "ONNX Runtime's CPU execution provider runs most fp16 ops by casting to fp32 and back, slower than "
                            + "fp32 artifacts and no more accurate";
            throw new ConfigException("the artifacts in " + manifestFile.getParent() + " were exported with precision "
                    + precision.configName() + ", which is for device cuda: " + why + ". Train them with --device cuda "
                    + "(a -Port-gpu build on a machine with an NVIDIA GPU), or re-export for the CPU with "
                    + "./tools/export-artifacts.sh ... --precision fp32");
        }
    }

    private static ConfigException mismatch(String key, Object given, String source, Object exported, Path manifestFile) {
        return new ConfigException(source + ": " + key + " is " + show(given) + ", but the artifacts in "
                + manifestFile.getParent() + " were exported with " + key + " " + show(exported)
                + ": it is fixed at export; drop the setting, or re-export with it (./tools/export-artifacts.sh ... --"
                + exportFlag(key) + " " + show(given) + ")");
    }

    private static String exportFlag(String key) {
        return switch (key) {
            case "lora_target_modules" -> "target-modules";
            case "lora_text_only" -> "text-only";
            default -> key.replace('_', '-');
        };
    }

    private static boolean same(Object given, Object exported) {
        if (given instanceof List<?> a && exported instanceof List<?> b) {
            return new HashSet<>(a).equals(new HashSet<>(b)); // PEFT matches target_modules as a set
        }
        return Objects.equals(given, exported);
    }

    private static String show(Object v) {
        if (v instanceof Enum<?> e) {
            return ConfigKeys.wireName(e);
        }
        if (v instanceof List<?> l) {
            return String.join(",", l.stream().map(String::valueOf).toList());
        }
        return String.valueOf(v);
    }

    private static Map<?, ?> section(Manifest manifest, String name, Path manifestFile) {
        Object s = manifest.extra() == null ? null : manifest.extra().get(name);
        if (!(s instanceof Map<?, ?> m)) {
            throw new ConfigException(manifestFile + " has no '" + name + "' section: these are not SmolVLM DPO artifacts "
                    + "(export a SmolVLM model with ./tools/export-artifacts.sh)");
        }
        return m;
    }

    private static List<String> strings(Object list) {
        List<String> out = new ArrayList<>();
        for (Object o : (List<?>) list) {
            out.add(String.valueOf(o));
        }
        return out;
    }
}
