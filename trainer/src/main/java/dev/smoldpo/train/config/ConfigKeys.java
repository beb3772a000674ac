package dev.smoldpo.train.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The keys of {@link TrainConfig}: snake_case names of its record components, their types, defaults and
 * descriptions (from {@link Key}), and the TRL/HF keys that are understood but have no effect here.
 */
public final class ConfigKeys {
    private ConfigKeys() {}

    /** One key: its snake_case name, record component and {@link Key} annotation. */
    public record Spec(String name, RecordComponent component, Key key) {
        public Class<?> type() {
            return component.getType();
        }

        public boolean nullable() {
            return !type().isPrimitive();
        }

        /** The general default as a command-line value, or null. */
        public String defaultText() {
            return Key.NULL.equals(key.def()) ? null : key.def();
        }

        /** "a number", "one of sigmoid, robust, ...", for messages and {@code --list-keys}. */
        public String expected() {
            Class<?> t = type();
            String orNull = nullable() && t != List.class ? " (or null)" : "";
            if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
                return "a whole number" + orNull;
            }
            if (t == double.class || t == Double.class) {
                return "a number" + orNull;
            }
            if (t == boolean.class || t == Boolean.class) {
                return "true or false";
            }
            if (t == Path.class) {
                return "a path" + orNull;
            }
            if (t == String.class) {
                return "a string" + orNull;
            }
            if (t == List.class) {
                Object arg = ((ParameterizedType) component.getGenericType()).getActualTypeArguments()[0];
                return "a list of " + (arg == String.class ? "strings" : arg) + " (or a comma-separated string)";
            }
            if (t.isEnum()) {
                return "one of " + String.join(", ", wireNames(t));
            }
            return t.getSimpleName();
        }

        /** A short type name for {@code --list-keys}. */
        public String typeName() {
            Class<?> t = type();
            if (t.isEnum()) {
                return "choice";
            }
            if (t == List.class) {
                return "list";
            }
            String s = t.getSimpleName().toLowerCase(Locale.ROOT);
            return switch (s) {
                case "integer", "int", "long" -> "int";
                case "double" -> "float";
                default -> s;
            };
        }
    }

    private static final Map<String, Spec> SPECS;

    static {
        Map<String, Spec> specs = new LinkedHashMap<>();
        for (RecordComponent c : TrainConfig.class.getRecordComponents()) {
            Key key = c.getAnnotation(Key.class);
            if (key == null) {
                throw new ExceptionInInitializerError("TrainConfig." + c.getName() + " has no @Key");
            }
            String name = snakeCase(c.getName());
            specs.put(name, new Spec(name, c, key));
        }
        SPECS = Collections.unmodifiableMap(specs);
    }

    /**
     * Keys of TRL's DPOConfig / HF TrainingArguments that users carry over from their Python configs and
     * that change nothing here: accepted with a one-line warning instead of failing the run.
     */
    static final Map<String, String> WITHOUT_EFFECT = Map.ofEntries(
            Map.entry("report_to", "metrics go to metrics.jsonl and PNG plots in output_dir"),
            Map.entry("logging_dir", "metrics go to output_dir/metrics.jsonl"),
            Map.entry("run_name", "runs are named by output_dir"),
            Map.entry("disable_tqdm", "progress is a bar on a terminal and plain lines otherwise"),
            Map.entry("bf16", "the precision is fixed at export: export-artifacts --precision bf16 (the key here is precision)"),
            Map.entry("fp16", "the precision is fixed at export: export-artifacts --precision fp16 (the key here is precision)"),
            Map.entry("tf32", "training runs in float32"),
            Map.entry("gradient_checkpointing", "recomputation is compiled into the training graph at export: "
                    + "export-artifacts --recompute layers (the key here is recompute)"),
            Map.entry("gradient_checkpointing_kwargs", "recomputation is compiled into the training graph at export: "
                    + "export-artifacts --recompute layers|attention (the key here is recompute)"),
            Map.entry("dataloader_num_workers", "data is read and encoded in the training process"),
            Map.entry("dataloader_pin_memory", "data is read and encoded in the training process"),
            Map.entry("dataset_num_proc", "data is read and encoded in the training process"),
            Map.entry("remove_unused_columns", "the dataset reader picks its own columns"),
            Map.entry("push_to_hub", "nothing is uploaded; use trainer.jar export"),
            Map.entry("hub_model_id", "nothing is uploaded; use trainer.jar export"),
            Map.entry("do_train", "fit always trains"),
            Map.entry("do_eval", "evaluation follows eval_strategy"),
            Map.entry("save_safetensors", "checkpoints are ONNX Runtime checkpoints; export writes safetensors"),
            Map.entry("torch_compile", "there is no PyTorch here"),
            Map.entry("use_cpu", "use device: cpu"),
            Map.entry("deepspeed", "one process trains on one device"),
            Map.entry("fsdp", "one process trains on one device"),
            Map.entry("fsdp_config", "one process trains on one device"),
            Map.entry("local_rank", "one process trains on one device"),
            Map.entry("ddp_find_unused_parameters", "one process trains on one device"),
            Map.entry("optim", "the optimizer is AdamW (adam_beta1, adam_beta2, adam_epsilon, weight_decay)"),
            Map.entry("torch_dtype", "the precision is fixed at export: export-artifacts --precision"),
            Map.entry("model_init_kwargs", "the model comes from the artifacts (export-artifacts)"),
            Map.entry("ref_model_init_kwargs", "the reference model comes from the artifacts (export-artifacts)"),
            Map.entry("use_liger_kernel", "there is no PyTorch here"),
            Map.entry("save_only_model", "checkpoints hold the adapters and the optimizer state, a few MB"));

    /** Every key, in declaration order. */
    public static List<String> names() {
        return List.copyOf(SPECS.keySet());
    }

    /** Every key's spec, in declaration order. */
    public static List<Spec> specs() {
        return List.copyOf(SPECS.values());
    }

    /** The spec of {@code key}, or null. */
    public static Spec find(String key) {
        return SPECS.get(key);
    }

    /** Why a TRL/HF key has no effect here, or null when it is not one of those. */
    public static String withoutEffect(String key) {
        return WITHOUT_EFFECT.get(key);
    }

    /** The general defaults, bound like any other layer. */
    static final TrainConfig DEFAULTS = ConfigLayers.defaults().bind();

    /** The defaults as command-line values (nulls omitted). */
    static Map<String, String> defaultTexts() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Spec s : SPECS.values()) {
            if (s.defaultText() != null) {
                m.put(s.name(), s.defaultText());
            }
        }
        return m;
    }

    static Map<String, Object> values(TrainConfig config) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (Spec s : SPECS.values()) {
            m.put(s.name(), read(config, s));
        }
        return m;
    }

    static Object get(TrainConfig config, String key) {
        Spec s = SPECS.get(key);
        if (s == null) {
            throw new IllegalArgumentException("unknown key '" + key + "'");
        }
        return read(config, s);
    }

    private static Object read(TrainConfig config, Spec s) {
        try {
            return s.component().getAccessor().invoke(config);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every key with its value as JSON (enums by their wire names, paths as strings), nulls included. */
    static ObjectNode toTree(TrainConfig config) {
        return ConfigMapper.MAPPER.valueToTree(config);
    }

    static String toJson(JsonNode tree) {
        try {
            return ConfigMapper.MAPPER.writer(ConfigMapper.PRETTY).writeValueAsString(tree) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String hash(TrainConfig config, Set<String> leftOut) {
        ObjectNode o = toTree(config);
        o.remove(leftOut);
        try {
            byte[] bytes = ConfigMapper.MAPPER.writeValueAsBytes(o);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An enum constant's name in config files: lower case, e.g. {@code shared_prefix}. */
    static String wireName(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT);
    }

    /** The names an enum-typed key accepts. */
    public static List<String> wireNamesOf(Class<?> enumType) {
        return wireNames(enumType);
    }

    /** The TRL/HF keys accepted with a warning, sorted. */
    public static List<String> keysWithoutEffect() {
        return WITHOUT_EFFECT.keySet().stream().sorted().toList();
    }

    static List<String> wireNames(Class<?> enumType) {
        List<String> names = new ArrayList<>();
        for (Object c : enumType.getEnumConstants()) {
            names.add(wireName((Enum<?>) c));
        }
        return names;
    }

    /** camelCase → snake_case as Jackson's SNAKE_CASE strategy writes it (so the two always agree). */
    static String snakeCase(String camel) {
        return ((PropertyNamingStrategies.NamingBase) PropertyNamingStrategies.SNAKE_CASE).translate(camel);
    }

    /** The known key closest to an unknown one, when it is plausibly a typo; else null. */
    static String closest(String key) {
        return closest(key, SPECS.keySet());
    }

    /** The name among {@code names} nearest to a misspelt {@code key} (a typo or two), or null. */
    public static String closest(String key, java.util.Collection<String> names) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : names) {
            int d = editDistance(key, k);
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        return bestDistance <= Math.max(2, key.length() / 4) ? best : null;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
