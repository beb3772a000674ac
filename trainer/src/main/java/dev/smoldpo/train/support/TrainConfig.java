package dev.smoldpo.train.support;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.DpoLossType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Everything {@code trainer.jar fit} needs to know, with the names and meanings users know from TRL's
 * {@code DPOConfig}, HF {@code TrainingArguments} and TRL's {@code ModelConfig} (LoRA: {@code lora_r},
 * {@code lora_alpha}, {@code lora_dropout}, {@code lora_target_modules}).
 *
 * <p>Sources, later ones winning: {@link #defaults()}, a YAML or JSON file of snake_case keys
 * ({@link #load(Path)}), then command-line flags ({@link #withOverrides(Map)}: {@code --learning-rate}
 * or {@code learning_rate}). An unknown key, a value of the wrong type or a value out of range is a
 * {@link ConfigException} naming the key. {@link #toJson()} writes every key (nulls included) and
 * {@link #load(Path)}/{@link #fromJson(String)} read it back to an equal record.
 *
 * <p>Defaults are TRL/HF's except where noted:
 * <ul>
 *   <li>{@code learning_rate} 1e-4 (TRL: 1e-6, HF: 5e-5): LoRA on the small demo/256M models learns
 *       visibly within a short CPU run at 1e-4; the HF SmolVLM cookbook's full-size run used 1e-6.</li>
 *   <li>{@code per_device_train_batch_size} 1, {@code gradient_accumulation_steps} 8 (HF: 8 and 1):
 *       the same effective batch of 8 pairs, with the memory of one pair per micro-batch on CPU;
 *       {@code per_device_eval_batch_size} 4 (HF: 8).</li>
 *   <li>{@code precompute_ref_log_probs} true (TRL: false, and impossible for vision datasets there):
 *       the reference log-probs of every pair are computed once and cached.</li>
 *   <li>{@code eval_strategy} epoch (HF: no), so the test split's reward accuracy is reported.</li>
 *   <li>{@code lora_r} 8, {@code lora_alpha} 8, {@code lora_dropout} 0 (TRL ModelConfig: 16, 32,
 *       0.05): the HF SmolVLM DPO cookbook's rank and scale, and the export command's defaults.</li>
 *   <li>{@code image_longest_edge} 512: one 512x512 tile (64 image tokens for SmolVLM-256M) per image,
 *       the "resize to avoid running out of memory" of the reference setup; null = the processor's own.</li>
 *   <li>{@code test_size} 0.1 of the pairs (a count when >= 1, as in HF datasets' train_test_split).</li>
 * </ul>
 * Our own keys: {@code dataset}, {@code eval_dataset}, {@code artifacts_dir}, {@code image_longest_edge},
 * {@code device} (cpu|cuda), {@code threads} (ORT intra-op threads, 0 = ORT's default), {@code layout}
 * (shared_prefix|concatenated), {@code max_nonfinite_steps} (consecutive optimizer steps skipped for a
 * non-finite loss or gradient before the run stops; 0 = stop at the first), {@code max_train_samples},
 * {@code max_eval_samples}, {@code lora_text_only}. Not supported: HF's fractional
 * {@code logging_steps}/{@code eval_steps}/{@code save_steps} (ratios of the total); give step counts.
 */
public record TrainConfig(
        // run
        Path outputDir,
        String modelNameOrPath,
        Path artifactsDir,
        // data
        Path dataset,
        Path evalDataset,
        double testSize,
        Integer maxTrainSamples,
        Integer maxEvalSamples,
        Integer imageLongestEdge,
        int maxLength,
        Integer maxPromptLength,
        Integer maxCompletionLength,
        TruncationMode truncationMode,
        // DPO
        double beta,
        DpoLossType lossType,
        double labelSmoothing,
        boolean referenceFree,
        boolean precomputeRefLogProbs,
        // LoRA
        int loraR,
        double loraAlpha,
        double loraDropout,
        List<String> loraTargetModules,
        boolean loraTextOnly,
        // optimisation
        double learningRate,
        LrSchedulerType lrSchedulerType,
        double warmupRatio,
        int warmupSteps,
        double numTrainEpochs,
        long maxSteps,
        int perDeviceTrainBatchSize,
        int perDeviceEvalBatchSize,
        int gradientAccumulationSteps,
        double maxGradNorm,
        double weightDecay,
        double adamBeta1,
        double adamBeta2,
        double adamEpsilon,
        long seed,
        Long dataSeed,
        // logging, evaluation, checkpoints
        int loggingSteps,
        boolean loggingFirstStep,
        IntervalStrategy evalStrategy,
        Integer evalSteps,
        boolean evalOnStart,
        IntervalStrategy saveStrategy,
        int saveSteps,
        Integer saveTotalLimit,
        String resumeFromCheckpoint,
        // runtime
        Device device,
        int threads,
        DpoLayout layout,
        int maxNonfiniteSteps) {

    /** HF {@code lr_scheduler_type} values supported (see {@link LrSchedule}). */
    public enum LrSchedulerType { LINEAR, COSINE, CONSTANT, CONSTANT_WITH_WARMUP }

    /** TRL {@code truncation_mode}: which end of an over-long prompt is kept. */
    public enum TruncationMode { KEEP_END, KEEP_START }

    /** HF {@code eval_strategy} / {@code save_strategy}. */
    public enum IntervalStrategy { NO, STEPS, EPOCH }

    /** Where ORT runs. */
    public enum Device { CPU, CUDA }

    /**
     * Keys that do not change what is trained, left out of {@link #hash()}: where and how often things
     * are written or evaluated, and the machine it runs on.
     */
    public static final Set<String> NOT_HASHED = Set.of("output_dir", "resume_from_checkpoint", "threads", "device",
            "logging_steps", "logging_first_step", "eval_strategy", "eval_steps", "eval_on_start",
            "per_device_eval_batch_size", "max_eval_samples", "save_strategy", "save_steps", "save_total_limit",
            "max_nonfinite_steps");

    public TrainConfig {
        loraTargetModules = loraTargetModules == null ? null : List.copyOf(loraTargetModules);
        require(outputDir != null, "output_dir must be set");
        require(testSize >= 0 && (testSize < 1 || (testSize == Math.rint(testSize) && testSize < Integer.MAX_VALUE)),
                "test_size must be a fraction in [0, 1) or a whole number of pairs, got " + testSize);
        requirePositive("max_train_samples", maxTrainSamples);
        requirePositive("max_eval_samples", maxEvalSamples);
        requirePositive("image_longest_edge", imageLongestEdge);
        require(maxLength > 0, "max_length must be positive, got " + maxLength);
        requirePositive("max_prompt_length", maxPromptLength);
        requirePositive("max_completion_length", maxCompletionLength);
        require(maxPromptLength == null || maxPromptLength < maxLength,
                "max_prompt_length (" + maxPromptLength + ") must be less than max_length (" + maxLength + ")");
        require(truncationMode != null, "truncation_mode must be set");
        require(beta > 0 && Double.isFinite(beta), "beta must be positive, got " + beta);
        require(lossType != null, "loss_type must be set");
        require(labelSmoothing >= 0 && labelSmoothing < 0.5, "label_smoothing must be in [0, 0.5), got " + labelSmoothing);
        require(loraR > 0, "lora_r must be positive, got " + loraR);
        require(loraAlpha > 0 && Double.isFinite(loraAlpha), "lora_alpha must be positive, got " + loraAlpha);
        require(loraDropout >= 0 && loraDropout < 1, "lora_dropout must be in [0, 1), got " + loraDropout);
        require(loraTargetModules != null && !loraTargetModules.isEmpty(), "lora_target_modules must not be empty");
        for (String m : loraTargetModules) {
            require(m != null && !m.isBlank(), "lora_target_modules has an empty entry: " + loraTargetModules);
        }
        require(learningRate >= 0 && Double.isFinite(learningRate), "learning_rate must be >= 0, got " + learningRate);
        require(lrSchedulerType != null, "lr_scheduler_type must be set");
        require(warmupRatio >= 0 && warmupRatio <= 1, "warmup_ratio must be in [0, 1], got " + warmupRatio);
        require(warmupSteps >= 0, "warmup_steps must be >= 0, got " + warmupSteps);
        require(maxSteps == -1 || maxSteps > 0, "max_steps must be -1 (train for num_train_epochs) or positive, got " + maxSteps);
        require(maxSteps > 0 || (numTrainEpochs > 0 && Double.isFinite(numTrainEpochs)),
                "num_train_epochs must be positive when max_steps is -1, got " + numTrainEpochs);
        require(numTrainEpochs >= 0 && Double.isFinite(numTrainEpochs), "num_train_epochs must be >= 0, got " + numTrainEpochs);
        require(perDeviceTrainBatchSize > 0, "per_device_train_batch_size must be positive, got " + perDeviceTrainBatchSize);
        require(perDeviceEvalBatchSize > 0, "per_device_eval_batch_size must be positive, got " + perDeviceEvalBatchSize);
        require(gradientAccumulationSteps > 0, "gradient_accumulation_steps must be positive, got " + gradientAccumulationSteps);
        require(maxGradNorm >= 0 && Double.isFinite(maxGradNorm), "max_grad_norm must be >= 0 (0 = no clipping), got " + maxGradNorm);
        require(weightDecay >= 0 && Double.isFinite(weightDecay), "weight_decay must be >= 0, got " + weightDecay);
        require(adamBeta1 >= 0 && adamBeta1 < 1, "adam_beta1 must be in [0, 1), got " + adamBeta1);
        require(adamBeta2 >= 0 && adamBeta2 < 1, "adam_beta2 must be in [0, 1), got " + adamBeta2);
        require(adamEpsilon > 0 && Double.isFinite(adamEpsilon), "adam_epsilon must be positive, got " + adamEpsilon);
        require(loggingSteps > 0, "logging_steps must be positive, got " + loggingSteps);
        require(evalStrategy != null, "eval_strategy must be set");
        requirePositive("eval_steps", evalSteps);
        require(saveStrategy != null, "save_strategy must be set");
        require(saveSteps > 0, "save_steps must be positive, got " + saveSteps);
        requirePositive("save_total_limit", saveTotalLimit);
        require(device != null, "device must be set");
        require(threads >= 0, "threads must be >= 0 (0 = ONNX Runtime's default), got " + threads);
        require(layout != null, "layout must be set");
        require(maxNonfiniteSteps >= 0, "max_nonfinite_steps must be >= 0, got " + maxNonfiniteSteps);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new ConfigException(message);
        }
    }

    private static void requirePositive(String key, Integer value) {
        require(value == null || value > 0, key + " must be positive (or null), got " + value);
    }

    // ---------------------------------------------------------------- keys, defaults

    private static final RecordComponent[] COMPONENTS = TrainConfig.class.getRecordComponents();
    private static final Map<String, RecordComponent> BY_KEY;
    private static final Constructor<TrainConfig> CONSTRUCTOR;

    static {
        Map<String, RecordComponent> byKey = new LinkedHashMap<>();
        Class<?>[] types = new Class<?>[COMPONENTS.length];
        for (int i = 0; i < COMPONENTS.length; i++) {
            byKey.put(snakeCase(COMPONENTS[i].getName()), COMPONENTS[i]);
            types[i] = COMPONENTS[i].getType();
        }
        BY_KEY = Collections.unmodifiableMap(byKey);
        try {
            CONSTRUCTOR = TrainConfig.class.getDeclaredConstructor(types);
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final TrainConfig DEFAULTS = construct(defaultValues());

    private static Map<String, Object> defaultValues() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("output_dir", Path.of("trainer_output"));
        d.put("test_size", 0.1);
        d.put("image_longest_edge", 512);
        d.put("max_length", 1024);
        d.put("max_prompt_length", 512);
        d.put("truncation_mode", TruncationMode.KEEP_END);
        d.put("beta", 0.1);
        d.put("loss_type", DpoLossType.SIGMOID);
        d.put("label_smoothing", 0.0);
        d.put("reference_free", false);
        d.put("precompute_ref_log_probs", true);
        d.put("lora_r", 8);
        d.put("lora_alpha", 8.0);
        d.put("lora_dropout", 0.0);
        d.put("lora_target_modules", LoraConfig.DEFAULT_TARGETS);
        d.put("lora_text_only", false);
        d.put("learning_rate", 1e-4);
        d.put("lr_scheduler_type", LrSchedulerType.LINEAR);
        d.put("warmup_ratio", 0.0);
        d.put("warmup_steps", 0);
        d.put("num_train_epochs", 3.0);
        d.put("max_steps", -1L);
        d.put("per_device_train_batch_size", 1);
        d.put("per_device_eval_batch_size", 4);
        d.put("gradient_accumulation_steps", 8);
        d.put("max_grad_norm", 1.0);
        d.put("weight_decay", 0.0);
        d.put("adam_beta1", 0.9);
        d.put("adam_beta2", 0.999);
        d.put("adam_epsilon", 1e-8);
        d.put("seed", 42L);
        d.put("logging_steps", 10);
        d.put("logging_first_step", false);
        d.put("eval_strategy", IntervalStrategy.EPOCH);
        d.put("eval_on_start", false);
        d.put("save_strategy", IntervalStrategy.STEPS);
        d.put("save_steps", 500);
        d.put("device", Device.CPU);
        d.put("threads", 0);
        d.put("layout", DpoLayout.SHARED_PREFIX);
        d.put("max_nonfinite_steps", 10);
        return d;
    }

    /** The defaults (see the class comment for where they differ from TRL/HF). */
    public static TrainConfig defaults() {
        return DEFAULTS;
    }

    /** Every key, in the order of {@link #toJson()}. */
    public static List<String> keys() {
        return List.copyOf(BY_KEY.keySet());
    }

    // ---------------------------------------------------------------- reading

    /** Reads a {@code .json} file, or YAML for any other extension, over the defaults. */
    public static TrainConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file not found: " + file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config file " + file, e);
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return parse(text, file.toString(), name.endsWith(".json"));
    }

    /** Parses JSON text over the defaults. */
    public static TrainConfig fromJson(String json) {
        return parse(json, "config JSON", true);
    }

    /** Parses YAML text over the defaults. */
    public static TrainConfig fromYaml(String yaml) {
        return parse(yaml, "config YAML", false);
    }

    private static TrainConfig parse(String text, String source, boolean json) {
        JsonNode root;
        try {
            root = (json ? Json.MAPPER : YAML).readTree(text);
        } catch (JsonProcessingException e) {
            throw new ConfigException(source + ": not valid " + (json ? "JSON" : "YAML") + ": " + e.getOriginalMessage(), e);
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            return DEFAULTS; // an empty file
        }
        if (!root.isObject()) {
            throw new ConfigException(source + ": expected a mapping of keys to values at the top level, got "
                    + describe(root));
        }
        return fromNode((ObjectNode) root, source);
    }

    private static TrainConfig fromNode(ObjectNode root, String source) {
        Map<String, Object> values = DEFAULTS.values();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            RecordComponent c = component(e.getKey(), source);
            values.put(e.getKey(), fromNode(e.getKey(), c, e.getValue(), source));
        }
        return construct(values, source);
    }

    /**
     * This configuration with command-line values applied on top. Keys may be written as flags
     * ({@code --per-device-train-batch-size}) or as in the file ({@code per_device_train_batch_size});
     * values are parsed like the file's ({@code null} or {@code none} clears a nullable key, lists are
     * comma-separated).
     */
    public TrainConfig withOverrides(Map<String, String> overrides) {
        if (overrides.isEmpty()) {
            return this;
        }
        Map<String, Object> values = values();
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            String key = flagToKey(e.getKey());
            String source = "command line (--" + key.replace('_', '-') + ")";
            RecordComponent c = component(key, "command line");
            values.put(key, fromString(key, c, e.getValue(), source));
        }
        return construct(values, "command line");
    }

    /** {@code --foo-bar} or {@code foo_bar} → {@code foo_bar}. */
    static String flagToKey(String flag) {
        String k = flag.strip();
        while (k.startsWith("-")) {
            k = k.substring(1);
        }
        return k.replace('-', '_').toLowerCase(Locale.ROOT);
    }

    private static RecordComponent component(String key, String source) {
        RecordComponent c = BY_KEY.get(key);
        if (c == null) {
            String hint = closest(key);
            throw new ConfigException("unknown key '" + key + "' in " + source
                    + (hint != null ? " (did you mean '" + hint + "'?)" : "")
                    + "; known keys: " + String.join(", ", BY_KEY.keySet()));
        }
        return c;
    }

    private static TrainConfig construct(Map<String, Object> values) {
        return construct(values, "defaults");
    }

    private static TrainConfig construct(Map<String, Object> values, String source) {
        Object[] args = new Object[COMPONENTS.length];
        int i = 0;
        for (Map.Entry<String, RecordComponent> e : BY_KEY.entrySet()) {
            Object v = values.get(e.getKey());
            if (v == null && e.getValue().getType().isPrimitive()) {
                throw new ConfigException(source + ": key '" + e.getKey() + "' has no value");
            }
            args[i++] = v;
        }
        try {
            return CONSTRUCTOR.newInstance(args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof ConfigException ce) {
                throw new ConfigException(source.equals("defaults") ? ce.getMessage() : source + ": " + ce.getMessage(), ce);
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Key → value (Java types: Path, String, Integer, Long, Double, Boolean, enum, List), every key. */
    public Map<String, Object> values() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (Map.Entry<String, RecordComponent> e : BY_KEY.entrySet()) {
            m.put(e.getKey(), get(e.getKey()));
        }
        return m;
    }

    /** The value of one key. */
    public Object get(String key) {
        RecordComponent c = component(key, "TrainConfig.get");
        try {
            return c.getAccessor().invoke(this);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- conversions

    private static Object fromNode(String key, RecordComponent c, JsonNode node, String source) {
        Class<?> type = c.getType();
        if (node == null || node.isNull()) {
            if (type.isPrimitive()) {
                throw typeError(source, key, c, node);
            }
            return null;
        }
        if (type == List.class) {
            if (node.isArray()) {
                List<String> list = new ArrayList<>();
                for (JsonNode item : node) {
                    if (!item.isValueNode() || item.isNull()) {
                        throw typeError(source, key, c, node);
                    }
                    list.add(item.asText());
                }
                return list;
            }
            if (node.isTextual()) {
                return fromString(key, c, node.textValue(), source);
            }
            throw typeError(source, key, c, node);
        }
        if (!node.isValueNode()) {
            throw typeError(source, key, c, node);
        }
        if (type == String.class) {
            return node.asText();
        }
        if (type == boolean.class || type == Boolean.class) {
            if (node.isBoolean()) {
                return node.booleanValue();
            }
            if (node.isTextual()) {
                return fromString(key, c, node.textValue(), source);
            }
            throw typeError(source, key, c, node);
        }
        if (node.isNumber()) {
            if (type == double.class || type == Double.class) {
                return node.doubleValue();
            }
            if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
                boolean integral = node.isIntegralNumber()
                        ? node.canConvertToLong()
                        : node.doubleValue() == Math.rint(node.doubleValue()) && Math.abs(node.doubleValue()) < 0x1p62;
                if (!integral) {
                    throw typeError(source, key, c, node);
                }
                long v = node.isIntegralNumber() ? node.longValue() : (long) node.doubleValue();
                if (type == long.class || type == Long.class) {
                    return v;
                }
                if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                    throw typeError(source, key, c, node);
                }
                return (int) v;
            }
            throw typeError(source, key, c, node);
        }
        if (node.isTextual()) {
            return fromString(key, c, node.textValue(), source);
        }
        throw typeError(source, key, c, node);
    }

    private static Object fromString(String key, RecordComponent c, String raw, String source) {
        Class<?> type = c.getType();
        String s = raw == null ? "" : raw.strip();
        if (!type.isPrimitive() && (s.isEmpty() || s.equalsIgnoreCase("null") || s.equalsIgnoreCase("none")
                || s.equals("~"))) {
            return null;
        }
        try {
            if (type == String.class) {
                return s;
            }
            if (type == Path.class) {
                return Path.of(s);
            }
            if (type == int.class || type == Integer.class) {
                return Integer.parseInt(s.replace("_", ""));
            }
            if (type == long.class || type == Long.class) {
                return Long.parseLong(s.replace("_", ""));
            }
            if (type == double.class || type == Double.class) {
                return Double.parseDouble(s);
            }
            if (type == boolean.class || type == Boolean.class) {
                return switch (s.toLowerCase(Locale.ROOT)) {
                    case "true", "yes", "on", "1" -> true;
                    case "false", "no", "off", "0" -> false;
                    default -> throw new IllegalArgumentException();
                };
            }
            if (type == List.class) {
                List<String> list = new ArrayList<>();
                for (String part : s.split(",")) {
                    if (!part.isBlank()) {
                        list.add(part.strip());
                    }
                }
                return list;
            }
            if (type.isEnum()) {
                String wanted = s.toLowerCase(Locale.ROOT).replace('-', '_');
                for (Object constant : type.getEnumConstants()) {
                    if (wireName(constant).equals(wanted)) {
                        return constant;
                    }
                }
                throw new IllegalArgumentException();
            }
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source + ": key '" + key + "': expected " + expected(c) + ", got '" + raw + "'");
        }
        throw new IllegalStateException("unsupported config type " + type);
    }

    private static ConfigException typeError(String source, String key, RecordComponent c, JsonNode node) {
        return new ConfigException(source + ": key '" + key + "': expected " + expected(c) + ", got " + describe(node));
    }

    private static String expected(RecordComponent c) {
        Class<?> type = c.getType();
        String nullable = type.isPrimitive() ? "" : " (or null)";
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "a whole number" + nullable;
        }
        if (type == double.class || type == Double.class) {
            return "a number" + nullable;
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        if (type == Path.class) {
            return "a path" + nullable;
        }
        if (type == String.class) {
            return "a string" + nullable;
        }
        if (type == List.class) {
            Type arg = ((ParameterizedType) c.getGenericType()).getActualTypeArguments()[0];
            return "a list of " + (arg == String.class ? "strings" : arg.getTypeName()) + " (or a comma-separated string)";
        }
        if (type.isEnum()) {
            List<String> names = new ArrayList<>();
            for (Object constant : type.getEnumConstants()) {
                names.add(wireName(constant));
            }
            return "one of " + String.join(", ", names);
        }
        return type.getSimpleName();
    }

    private static String describe(JsonNode node) {
        if (node == null || node.isNull()) {
            return "null";
        }
        if (node.isTextual()) {
            return "the string '" + node.textValue() + "'";
        }
        if (node.isBoolean()) {
            return "the boolean " + node.booleanValue();
        }
        if (node.isNumber()) {
            return "the number " + node.asText();
        }
        if (node.isArray()) {
            return "a list " + node;
        }
        if (node.isObject()) {
            return "a mapping " + node;
        }
        return node.toString();
    }

    private static String wireName(Object enumConstant) {
        return ((Enum<?>) enumConstant).name().toLowerCase(Locale.ROOT);
    }

    static String snakeCase(String camel) {
        StringBuilder b = new StringBuilder();
        for (char ch : camel.toCharArray()) {
            if (Character.isUpperCase(ch)) {
                b.append('_').append(Character.toLowerCase(ch));
            } else {
                b.append(ch);
            }
        }
        return b.toString();
    }

    private static String closest(String key) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : BY_KEY.keySet()) {
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

    // ---------------------------------------------------------------- writing

    private static final YAMLMapper YAML = new YAMLMapper();

    /** Every key with its value, nulls included, in declaration order. */
    public ObjectNode toJsonNode() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, Object> e : values().entrySet()) {
            o.set(e.getKey(), toNode(e.getValue()));
        }
        return o;
    }

    private static JsonNode toNode(Object v) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (v == null) {
            return f.nullNode();
        }
        if (v instanceof Path p) {
            return f.textNode(p.toString());
        }
        if (v instanceof String s) {
            return f.textNode(s);
        }
        if (v instanceof Integer i) {
            return f.numberNode(i);
        }
        if (v instanceof Long l) {
            return f.numberNode(l);
        }
        if (v instanceof Double d) {
            return f.numberNode(d);
        }
        if (v instanceof Boolean b) {
            return f.booleanNode(b);
        }
        if (v instanceof Enum<?> e) {
            return f.textNode(wireName(e));
        }
        if (v instanceof List<?> list) {
            ArrayNode a = f.arrayNode();
            for (Object item : list) {
                a.add(String.valueOf(item));
            }
            return a;
        }
        throw new IllegalStateException("unsupported config value " + v.getClass());
    }

    /** Pretty JSON of every key; {@link #fromJson(String)} reads it back to an equal record. */
    public String toJson() {
        try {
            return Json.MAPPER.writer(Json.PRETTY).writeValueAsString(toJsonNode()) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@link #toJson()} to {@code file} (atomically: temporary file, then rename). */
    public void save(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, "." + file.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, toJson(), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * SHA-256 (hex) of the keys that change what is trained: everything but {@link #NOT_HASHED}. Stored in
     * checkpoints so that a resume with a different data, model, loss or optimisation setup is noticed.
     */
    public String hash() {
        ObjectNode o = toJsonNode();
        o.remove(NOT_HASHED);
        try {
            byte[] bytes = Json.MAPPER.writeValueAsBytes(o);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- derived quantities

    /** The seed of the data order and split: {@code data_seed}, or {@code seed} when unset (HF). */
    public long effectiveDataSeed() {
        return dataSeed != null ? dataSeed : seed;
    }

    /** Evaluation interval in optimizer steps when {@code eval_strategy} is steps: {@code eval_steps}, else {@code logging_steps} (HF). */
    public int effectiveEvalSteps() {
        return evalSteps != null ? evalSteps : loggingSteps;
    }

    /** Pairs held out of {@code n} for evaluation: ceil(n x test_size) for a fraction, else test_size itself (HF datasets). */
    public long testCount(long n) {
        if (testSize == 0) {
            return 0;
        }
        if (testSize >= 1) {
            return (long) testSize;
        }
        return (long) Math.ceil(n * testSize);
    }

    /** Micro-batches in one epoch of {@code trainPairs} pairs (the last may be partial). */
    public long microBatchesPerEpoch(long trainPairs) {
        return ceilDiv(trainPairs, perDeviceTrainBatchSize);
    }

    /**
     * Optimizer steps in one epoch: ceil(micro-batches / gradient_accumulation_steps), at least 1 (HF
     * since 4.46: a last, shorter accumulation still makes a step).
     */
    public long updateStepsPerEpoch(long trainPairs) {
        return Math.max(1, ceilDiv(microBatchesPerEpoch(trainPairs), gradientAccumulationSteps));
    }

    /** Optimizer steps of the run: {@code max_steps} when positive, else ceil(num_train_epochs x steps per epoch). */
    public long totalSteps(long trainPairs) {
        if (maxSteps > 0) {
            return maxSteps;
        }
        return (long) Math.ceil(numTrainEpochs * updateStepsPerEpoch(trainPairs));
    }

    /** The LR schedule of a run of {@code totalSteps} optimizer steps. */
    public LrSchedule lrSchedule(long totalSteps) {
        return LrSchedule.of(lrSchedulerType, learningRate, totalSteps,
                LrSchedule.warmupSteps(totalSteps, warmupSteps, warmupRatio));
    }

    /** The LoRA settings for the exporter. */
    public LoraConfig loraConfig() {
        return new LoraConfig(loraR, loraAlpha, loraDropout, loraTargetModules, loraTextOnly);
    }

    /** The loss settings baked into the graphs (β is a run-time input). */
    public DpoConfig dpoConfig() {
        return new DpoConfig(lossType, labelSmoothing, referenceFree);
    }

    /** AdamW settings baked into the optimizer graph (the learning rate is set per step). */
    public AdamWConfig adamWConfig() {
        return new AdamWConfig(adamBeta1, adamBeta2, adamEpsilon, weightDecay, maxGradNorm);
    }

    private static long ceilDiv(long a, long b) {
        return a <= 0 ? 0 : (a + b - 1) / b;
    }

    @Override
    public String toString() {
        return "TrainConfig" + Arrays.toString(values().entrySet().toArray());
    }
}
