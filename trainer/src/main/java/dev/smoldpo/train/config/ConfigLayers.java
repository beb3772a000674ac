package dev.smoldpo.train.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Builds a {@link TrainConfig} from layers, later ones winning key by key: the general defaults, a
 * recipe (the demo's own defaults), a config file, command-line flags, and the values the artifacts
 * fix ({@link ArtifactSettings}). A key given in a file or a flag is <i>explicit</i> and always wins,
 * even when it equals a default. Every key remembers the layer that set it, which {@link
 * ResolvedConfig} writes into {@code train_config.json}. Binding is Jackson's ({@link ConfigMapper});
 * its exceptions become {@link ConfigException}s naming the key, what was expected and where the
 * value came from.
 */
public final class ConfigLayers {
    /** Source of a key nobody set. */
    public static final String DEFAULT = "default";
    /** The key of {@code train_config.json} that records each key's source (skipped when read back). */
    public static final String SOURCES_KEY = "_sources";
    /**
     * What the command line's parser records for a flag given without a value ({@code --resume-from-checkpoint}
     * at the end, or followed by another flag): true for a boolean key, an error for any other, which would
     * otherwise take the word "true" (an output folder named true).
     */
    public static final String NO_VALUE = "\u0000no value";
    private static final int MAX_SHOWN_VALUE = 120;

    private final ObjectNode values = JsonNodeFactory.instance.objectNode();
    private final Map<String, String> sources = new LinkedHashMap<>();
    private final Set<String> explicit = new HashSet<>();
    private final List<String> warnings = new ArrayList<>();

    private ConfigLayers() {}

    /** The general defaults of {@link TrainConfig}'s {@link Key}s. */
    public static ConfigLayers defaults() {
        ConfigLayers layers = new ConfigLayers();
        for (ConfigKeys.Spec s : ConfigKeys.specs()) {
            layers.put(s.name(), s.defaultText() == null ? NullNode.getInstance() : text(s.defaultText()), DEFAULT, false);
        }
        return layers;
    }

    /** Every key of {@code base}, attributed to {@code source} (not explicit). */
    public static ConfigLayers of(TrainConfig base, String source) {
        ConfigLayers layers = new ConfigLayers();
        ConfigKeys.toTree(base).properties().forEach(e -> layers.put(e.getKey(), e.getValue(), source, false));
        return layers;
    }

    /** A recipe's defaults (command-line values), e.g. the demo's: they replace general defaults only. */
    public ConfigLayers recipe(String name, Map<String, String> recipe) {
        recipe.forEach((k, v) -> put(known(k, name), parseFlagValue(v), name, false));
        return this;
    }

    /** A YAML file, or JSON when its name ends in .json; every key in it is explicit. */
    public ConfigLayers file(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file not found: " + file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config file " + file, e);
        }
        return text(text, "config file " + file, file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json"));
    }

    /** YAML or JSON text; every key in it is explicit. */
    public ConfigLayers text(String text, String source, boolean json) {
        JsonNode root;
        try {
            root = (json ? ConfigMapper.MAPPER : ConfigMapper.YAML).readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new ConfigException(source + ": not valid " + (json ? "JSON" : "YAML")
                    + (at == null ? "" : " at line " + at.getLineNr() + " column " + at.getColumnNr()) + ": "
                    + shorten(e.getOriginalMessage()));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            return this; // an empty file
        }
        if (!root.isObject()) {
            throw new ConfigException(source + ": expected a mapping of keys to values at the top level, got " + describe(root));
        }
        requireKnown(root, source);
        root.properties().forEach(e -> {
            if (!e.getKey().equals(SOURCES_KEY) && accepted(e.getKey(), source)) {
                put(e.getKey(), e.getValue(), source, true);
            }
        });
        return this;
    }

    /**
     * Command-line values ({@code --per-device-train-batch-size} or {@code per_device_train_batch_size});
     * {@code null}, {@code none} or an empty value clears a nullable key; lists are comma-separated.
     */
    public ConfigLayers flags(Map<String, String> flags) {
        flags.forEach((flag, value) -> {
            String key = flagToKey(flag);
            if (accepted(key, "command line")) {
                String source = "command line (--" + key.replace('_', '-') + ")";
                put(key, parseFlagValue(flagValue(value, key, ConfigKeys.find(key).type(), source)), source, true);
            }
        });
        return this;
    }

    /** One value (a Java value of the key's type, or null) from a named source. */
    public ConfigLayers set(String key, Object value, String source, boolean isExplicit) {
        put(known(key, source), ConfigMapper.MAPPER.valueToTree(value), source, isExplicit);
        return this;
    }

    /** Replaces {@code key}'s value by a resolved form of it (e.g. an absolute path), keeping its source. */
    public ConfigLayers resolved(String key, Object value) {
        put(known(key, "resolved"), ConfigMapper.MAPPER.valueToTree(value), sources.get(key), explicit.contains(key));
        return this;
    }

    /** Where {@code key}'s value came from. */
    public String source(String key) {
        return sources.get(known(key, "source"));
    }

    /** Whether {@code key} was given in a config file or on the command line. */
    public boolean isExplicit(String key) {
        return explicit.contains(known(key, "isExplicit"));
    }

    /** Whether a layer has set {@code key} (to a non-null value or to null) other than the defaults. */
    public boolean isSet(String key) {
        return !DEFAULT.equals(source(key));
    }

    /** Warnings about keys without effect here, one line each. */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** The bound configuration. */
    public TrainConfig bind() {
        try {
            return ConfigMapper.MAPPER.treeToValue(values, TrainConfig.class);
        } catch (ValueInstantiationException e) {
            if (e.getCause() instanceof ConfigException ce) {
                throw new ConfigException(attributed(ce.getMessage()), ce);
            }
            throw new IllegalStateException(e.getCause());
        } catch (JsonMappingException e) {
            String key = e.getPath().isEmpty() ? null : e.getPath().get(0).getFieldName();
            if (key == null || ConfigKeys.find(key) == null) {
                throw new ConfigException("settings could not be read: " + shorten(e.getOriginalMessage()));
            }
            throw new ConfigException(sources.get(key) + ": key '" + key + "': expected " + ConfigKeys.find(key).expected()
                    + ", got " + describe(values.get(key)), e);
        } catch (JsonProcessingException e) {
            throw new ConfigException("settings could not be read: " + shorten(e.getOriginalMessage()));
        }
    }

    /** The bound configuration with each key's source and the warnings. */
    public ResolvedConfig resolve() {
        return new ResolvedConfig(bind(), sources, warnings);
    }

    // ---------------------------------------------------------------- helpers

    private void put(String key, JsonNode value, String source, boolean isExplicit) {
        values.set(key, value);
        sources.put(key, source);
        if (isExplicit) {
            explicit.add(key);
        } else {
            explicit.remove(key);
        }
    }

    /**
     * Fails naming every unknown key of a file at once (a TRL config often carries several), each with
     * its nearest known key, and saying that settings are flat when one holds a nested section.
     */
    private static void requireKnown(JsonNode root, String source) {
        List<String> unknown = new ArrayList<>();
        boolean nested = false;
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String key = e.getKey();
            if (!key.equals(SOURCES_KEY) && ConfigKeys.find(key) == null && ConfigKeys.withoutEffect(key) == null) {
                unknown.add(key);
                nested |= e.getValue().isObject();
            }
        }
        if (!unknown.isEmpty()) {
            throw unknownKeys(unknown, source, nested);
        }
    }

    /** "unknown key(s) 'k' (did you mean 'key'?), ... in SOURCE; known keys: ...", for one key or a file's several. */
    private static ConfigException unknownKeys(List<String> keys, String source, boolean nested) {
        List<String> shown = keys.stream().map(k -> {
            String hint = ConfigKeys.closest(k);
            return "'" + k + "'" + (hint != null ? " (did you mean '" + hint + "'?)" : "");
        }).toList();
        return new ConfigException("unknown key" + (keys.size() > 1 ? "s " : " ") + String.join(", ", shown) + " in " + source
                + (nested ? "; settings are flat key: value pairs, a nested section is not read" : "")
                + "; known keys: " + String.join(", ", ConfigKeys.names()) + " (fit --list-keys describes them)");
    }

    /** True for a known key; false (with a warning) for a TRL/HF key without effect here; else fails. */
    private boolean accepted(String key, String source) {
        if (ConfigKeys.find(key) != null) {
            return true;
        }
        String why = ConfigKeys.withoutEffect(key);
        if (why != null) {
            warnings.add(source + ": '" + key + "' has no effect here (" + why + "); ignored");
            return false;
        }
        known(key, source);
        return false;
    }

    private static String known(String key, String source) {
        if (ConfigKeys.find(key) == null) {
            throw unknownKeys(List.of(key), source, false);
        }
        return key;
    }

    /** {@code --foo-bar} or {@code foo_bar} → {@code foo_bar}. */
    public static String flagToKey(String flag) {
        String k = flag.strip();
        while (k.startsWith("-")) {
            k = k.substring(1);
        }
        return k.replace('-', '_').toLowerCase(Locale.ROOT);
    }

    /** A flag's value; for one given without a value, true when {@code type} is boolean, else a named error. */
    public static String flagValue(String value, String key, Class<?> type, String source) {
        if (!NO_VALUE.equals(value)) {
            return value;
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true";
        }
        throw new ConfigException(source + ": --" + key.replace('_', '-') + " needs a value (" + type.getSimpleName()
                + "), as in --" + key.replace('_', '-') + " VALUE; none was given before the next flag or the end");
    }

    private static JsonNode parseFlagValue(String value) {
        String s = value == null ? "" : value.strip();
        return s.isEmpty() || s.equalsIgnoreCase("null") || s.equalsIgnoreCase("none") || s.equals("~")
                ? NullNode.getInstance() : text(s);
    }

    private static JsonNode text(String s) {
        return JsonNodeFactory.instance.textNode(s);
    }

    /** A range message from TrainConfig's constructor ("beta must be positive ...") with its key's source. */
    private String attributed(String message) {
        int end = 0;
        while (end < message.length() && (Character.isLetterOrDigit(message.charAt(end)) || message.charAt(end) == '_')) {
            end++;
        }
        String source = sources.get(message.substring(0, end));
        return source == null || DEFAULT.equals(source) ? message : source + ": " + message;
    }

    static String describe(JsonNode node) {
        String s;
        if (node == null || node.isNull()) {
            s = "null";
        } else if (node.isTextual()) {
            s = "'" + node.textValue() + "'";
        } else if (node.isBoolean()) {
            s = "the boolean " + node.booleanValue();
        } else if (node.isNumber()) {
            s = "the number " + node.asText();
        } else if (node.isArray()) {
            s = "a list " + node;
        } else if (node.isObject()) {
            s = "a mapping " + node;
        } else {
            s = node.toString();
        }
        return shorten(s);
    }

    private static String shorten(String s) {
        if (s == null) {
            return "";
        }
        String oneLine = s.replace('\n', ' ');
        return oneLine.length() <= MAX_SHOWN_VALUE ? oneLine : oneLine.substring(0, MAX_SHOWN_VALUE) + "...";
    }
}
