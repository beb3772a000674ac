package dev.smoldpo.grpo;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.smoldpo.train.config.ConfigException;
import dev.smoldpo.train.config.ConfigKeys;
import dev.smoldpo.train.config.ConfigLayers;
import dev.smoldpo.train.config.Key;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Binds {@link GrpoConfig} from layers, later ones winning key by key: the {@link Key} defaults, a recipe
 * (the demo's), a YAML/JSON config file, then command-line flags ({@code --num-generations 8} or
 * {@code --num_generations 8}; lists comma-separated). Each key remembers its source, written with the
 * values into {@code grpo_config.json}; unknown keys and wrong types fail naming the key and the source.
 */
public final class GrpoSettings {
    public static final String SOURCES_KEY = "_sources";
    /** The source of a key no layer has set. */
    public static final String DEFAULT = "default";
    static final ObjectMapper JSON = JsonMapper.builder().propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).build();
    private static final Map<String, RecordComponent> KEYS = new LinkedHashMap<>();

    static {
        for (RecordComponent c : GrpoConfig.class.getRecordComponents()) {
            KEYS.put(PropertyNamingStrategies.SnakeCaseStrategy.INSTANCE.translate(c.getName()), c);
        }
    }

    private final ObjectNode values = JsonNodeFactory.instance.objectNode();
    private final Map<String, String> sources = new LinkedHashMap<>();

    public GrpoSettings() {
        KEYS.forEach((name, c) -> {
            Key k = c.getAnnotation(Key.class);
            put(name, Key.NULL.equals(k.def()) ? null : k.def(), DEFAULT);
        });
    }

    public static List<String> keys() {
        return List.copyOf(KEYS.keySet());
    }

    /** Every key with its default and description, one per line (grpo --list-keys). */
    public static List<String> describe() {
        return KEYS.entrySet().stream().map(e -> {
            Key k = e.getValue().getAnnotation(Key.class);
            return String.format("%-26s %-8s default %-20s %s", e.getKey(), e.getValue().getType().getSimpleName(),
                    Key.NULL.equals(k.def()) ? "-" : "'" + k.def() + "'", k.doc());
        }).toList();
    }

    public GrpoSettings layer(Map<String, String> flags, String source) {
        flags.forEach((flag, value) -> {
            String key = ConfigLayers.flagToKey(flag);
            String from = source.equals("command line") ? "command line (--" + key.replace('_', '-') + ")" : source;
            put(known(key, source), ConfigLayers.flagValue(value, key, KEYS.get(key).getType(), from), from);
        });
        return this;
    }

    /** A YAML or JSON file (JSON when its name ends in .json); the {@value #SOURCES_KEY} of a written config is skipped. */
    public GrpoSettings file(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("config file not found: " + file);
        }
        JsonNode root = (file.toString().endsWith(".json") ? new ObjectMapper() : new YAMLMapper()).readTree(file.toFile());
        if (root == null || !root.isObject()) {
            throw new ConfigException(file + ": expected a mapping of keys to values");
        }
        root.properties().forEach(e -> {
            if (!e.getKey().equals(SOURCES_KEY)) {
                values.set(known(e.getKey(), "config file " + file), e.getValue());
                sources.put(e.getKey(), "config file " + file);
            }
        });
        return this;
    }

    /** Whether {@code key} holds a value (not null) after the layers so far. */
    public boolean hasValue(String key) {
        return values.hasNonNull(known(key, "hasValue"));
    }

    public String source(String key) {
        return sources.get(key);
    }

    /** Replaces {@code key}'s value by a resolved form of it (an absolute path), keeping its source. */
    public GrpoSettings resolved(String key, String value) {
        put(known(key, "resolved"), value, sources.get(key));
        return this;
    }

    public GrpoConfig bind() {
        try {
            return JSON.treeToValue(values, GrpoConfig.class);
        } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
            if (e.getCause() instanceof ConfigException ce) {
                throw attributed(ce);
            }
            if (e.getCause() instanceof IllegalArgumentException iae) {
                // a range check of a value class (SamplingSettings, GrpoLossType): its message, not Jackson's
                throw attributed(new ConfigException(iae.getMessage(), iae));
            }
            throw new ConfigException(e.getOriginalMessage(), e);
        } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
            String key = e.getPath().isEmpty() ? "?" : e.getPath().get(0).getFieldName();
            throw new ConfigException(sources.get(key) + ": key '" + key + "': expected "
                    + (KEYS.containsKey(key) ? KEYS.get(key).getGenericType().getTypeName().replaceAll("java\\.\\w+\\.", "") : "?")
                    + ", got " + values.get(key), e);
        } catch (IOException e) {
            throw new ConfigException("settings could not be read: " + e.getMessage(), e);
        }
    }

    /** The values with their sources, as written to grpo_config.json: numbers and booleans as JSON's own. */
    public ObjectNode toJson() {
        ObjectNode out = values.deepCopy();
        KEYS.forEach((name, c) -> {
            JsonNode v = out.get(name);
            Class<?> t = c.getType();
            boolean scalar = t.isPrimitive() || Number.class.isAssignableFrom(t) || t == Boolean.class;
            if (v != null && v.isTextual() && scalar) {
                try {
                    out.set(name, JSON.valueToTree(JSON.treeToValue(v, t)));
                } catch (IOException | IllegalArgumentException e) {
                    // left as given: bind() names a value that is not of its key's type
                }
            } else if (v != null && v.isArray() && c.getGenericType().getTypeName().equals("java.util.List<java.lang.Double>")) {
                try {
                    out.set(name, JSON.valueToTree(JSON.treeToValue(v, double[].class)));
                } catch (IOException | IllegalArgumentException e) {
                    // as above
                }
            }
        });
        ObjectNode s = out.putObject(SOURCES_KEY);
        sources.forEach(s::put);
        return out;
    }

    private ConfigException attributed(ConfigException ce) {
        String key = ce.getMessage().split("[ (]", 2)[0];
        String source = sources.get(key);
        return source == null || source.equals(DEFAULT) ? ce : new ConfigException(source + ": " + ce.getMessage(), ce);
    }

    private void put(String key, String text, String source) {
        RecordComponent c = KEYS.get(key);
        JsonNode node;
        String s = text == null ? null : text.strip();
        if (s == null || s.equalsIgnoreCase("null") || s.equalsIgnoreCase("none") && !key.equals("scale_rewards")) {
            node = NullNode.getInstance();
        } else if (List.class.isAssignableFrom(c.getType())) {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            splitList(s).forEach(a::add);
            node = a;
        } else {
            node = JsonNodeFactory.instance.textNode(s);
        }
        values.set(key, node);
        sources.put(key, source);
    }

    /**
     * Comma-separated items; a piece after a {@code cmd:} item that is not itself a known reward name or a
     * number belongs to that command line (which may hold commas).
     */
    static List<String> splitList(String s) {
        List<String> items = new java.util.ArrayList<>();
        for (String piece : s.isEmpty() ? new String[0] : s.split(",")) {
            String p = piece.strip();
            boolean continues = !items.isEmpty() && items.getLast().startsWith("cmd:") && !p.startsWith("cmd:")
                    && !p.matches("[a-z_]+|[-+0-9.eE]+");
            if (continues) {
                items.set(items.size() - 1, items.getLast() + "," + piece);
            } else {
                items.add(p);
            }
        }
        return items;
    }

    private static String known(String key, String source) {
        if (!KEYS.containsKey(key)) {
            String hint = ConfigKeys.closest(key, KEYS.keySet());
            throw new ConfigException("unknown key '" + key + "' in " + source
                    + (hint != null ? " (did you mean '" + hint + "'?)" : "") + "; known keys: " + String.join(", ", KEYS.keySet())
                    + " (grpo --list-keys describes them)");
        }
        return key;
    }
}
