package dev.smoldpo.export.peft;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.model.lora.LoraTargets;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * PEFT's {@code adapter_config.json} for an exported adapter: the LoRA settings the artifacts were
 * exported with (their manifest), the {@code target_modules} PEFT needs to adapt exactly the trained
 * modules (a regular expression for text-only adapters), and the check that it selects them.
 */
final class PeftAdapterConfig {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeftAdapterConfig() {}

    /**
     * The regular expression written as {@code target_modules} for text-only adapters: a module inside the text
     * model whose name ends with one of {@code targets} (Python {@code re} syntax, for {@code re.fullmatch}).
     */
    static String textOnlyRegex(List<String> targets) {
        StringBuilder alternatives = new StringBuilder();
        for (String t : targets) {
            if (!alternatives.isEmpty()) {
                alternatives.append('|');
            }
            alternatives.append(pythonEscape(t));
        }
        return ".*text_model\\.(?:.*\\.)?(?:" + alternatives + ")";
    }

    /** Escapes regex metacharacters the way Python's {@code re.escape} does for them (valid in Java too). */
    private static String pythonEscape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (".^$*+?{}[]\\|()-#&~ ".indexOf(c) >= 0) {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    /** The LoRA settings of {@code manifest.extra().lora}. */
    record LoraSettings(int r, double alpha, double dropout, List<String> targetModules, boolean textOnly,
                                List<String> adaptedModules) {
        static LoraSettings of(Manifest manifest, Path file) {
            Object lora = manifest.extra() == null ? null : manifest.extra().get("lora");
            if (!(lora instanceof Map<?, ?> m)) {
                throw new IllegalArgumentException(file + " has no 'lora' settings: these artifacts were not built "
                        + "for LoRA training, so there is no adapter to export");
            }
            int r = number(m, "r", file).intValue();
            double alpha = number(m, "lora_alpha", file).doubleValue();
            Object dropoutValue = m.get("lora_dropout");
            double dropout = dropoutValue == null ? 0.0 : number(m, "lora_dropout", file).doubleValue();
            List<String> targets = strings(m, "target_modules", file);
            if (targets == null || targets.isEmpty()) {
                throw new IllegalArgumentException(file + ": lora.target_modules is missing or empty");
            }
            Object textOnly = m.get("text_only");
            if (textOnly != null && !(textOnly instanceof Boolean)) {
                throw new IllegalArgumentException(file + ": lora.text_only is not a boolean: " + textOnly);
            }
            if (r <= 0) {
                throw new IllegalArgumentException(file + ": lora.r must be positive, got " + r);
            }
            return new LoraSettings(r, alpha, dropout, targets, Boolean.TRUE.equals(textOnly),
                    strings(m, "adapted_modules", file));
        }

        private static Number number(Map<?, ?> m, String key, Path file) {
            if (!(m.get(key) instanceof Number n)) {
                throw new IllegalArgumentException(file + ": lora." + key + " is missing or not a number: " + m.get(key));
            }
            return n;
        }

        private static List<String> strings(Map<?, ?> m, String key, Path file) {
            Object v = m.get(key);
            if (v == null) {
                return null;
            }
            if (!(v instanceof List<?> list) || !list.stream().allMatch(x -> x instanceof String)) {
                throw new IllegalArgumentException(file + ": lora." + key + " is not a list of strings: " + v);
            }
            return list.stream().map(String.class::cast).toList();
        }
    }

    /** Checks that PEFT, given {@code targetModules}, adapts exactly {@code modules} of those the manifest lists. */
    static void checkSelection(Set<String> modules, Object targetModules, LoraSettings lora, Path checkpoint,
                                       Path manifestFile) {
        for (String module : modules) {
            boolean selected = targetModules instanceof String regex
                    ? Pattern.compile(regex).matcher(module).matches()
                    : LoraTargets.matches(module, lora.targetModules());
            if (!selected) {
                throw new IllegalArgumentException("checkpoint " + checkpoint + " adapts '" + module
                        + "', which target_modules " + targetModules + " of " + manifestFile + " does not select"
                        + (lora.textOnly() ? " (text_only)" : "") + ": PEFT would not load that adapter");
            }
        }
        if (lora.adaptedModules() != null && !Set.copyOf(lora.adaptedModules()).equals(modules)) {
            Set<String> missing = new LinkedHashSet<>(lora.adaptedModules());
            missing.removeAll(modules);
            Set<String> extra = new LinkedHashSet<>(modules);
            lora.adaptedModules().forEach(extra::remove);
            throw new IllegalArgumentException("checkpoint " + checkpoint + " does not hold the adapters "
                    + manifestFile + " lists (adapted_modules): "
                    + (missing.isEmpty() ? "" : "missing " + preview(List.copyOf(missing)))
                    + (missing.isEmpty() || extra.isEmpty() ? "" : "; ")
                    + (extra.isEmpty() ? "" : "not listed " + preview(List.copyOf(extra)))
                    + " (was it trained with other artifacts?)");
        }
    }

    static String preview(List<String> names) {
        return names.size() <= 3 ? names.toString()
                : names.subList(0, 3) + " and " + (names.size() - 3) + " more";
    }

    static byte[] json(LoraSettings lora, Object targetModules, String baseModel) {
        Map<String, Object> c = new TreeMap<>(); // sorted keys, as PEFT's save_pretrained writes them
        c.put("alpha_pattern", Map.of());
        c.put("base_model_name_or_path", baseModel);
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("inference_mode", true);
        c.put("init_lora_weights", true);
        c.put("layers_pattern", null);
        c.put("layers_to_transform", null);
        double alpha = lora.alpha();
        c.put("lora_alpha", alpha == Math.rint(alpha) && Math.abs(alpha) < 1e15 ? (Object) (long) alpha : alpha);
        c.put("lora_dropout", lora.dropout());
        c.put("modules_to_save", null);
        c.put("peft_type", "LORA");
        c.put("r", lora.r());
        c.put("rank_pattern", Map.of());
        c.put("revision", null);
        c.put("target_modules", targetModules);
        c.put("task_type", null);
        c.put("use_dora", false);
        c.put("use_rslora", false);
        try {
            return JSON.writeValueAsBytes(c);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
