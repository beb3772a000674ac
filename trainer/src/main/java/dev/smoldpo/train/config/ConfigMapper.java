package dev.smoldpo.train.config;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.module.SimpleDeserializers;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Jackson setup that binds settings into {@link TrainConfig}: snake_case names, unknown keys and
 * nulls for primitives rejected, no silent float-to-int truncation, and the value forms users write in
 * TRL/HF configs and on the command line: enums by lower-case name ({@code shared-prefix} too), HF's
 * booleans ({@code yes}/{@code no}, {@code 1}/{@code 0}, as {@code transformers.hf_argparser} accepts),
 * paths as plain strings, lists as YAML lists or comma-separated strings. Jackson's own messages never
 * reach users: {@link ConfigLayers} turns its exceptions into messages naming the key and the source.
 */
final class ConfigMapper {
    private ConfigMapper() {}

    static final ObjectMapper MAPPER = configure(JsonMapper.builder().build());
    static final ObjectMapper YAML = configure(YAMLMapper.builder().build());

    static final DefaultPrettyPrinter PRETTY = new DefaultPrettyPrinter()
            .withObjectIndenter(new DefaultIndenter("  ", "\n"))
            .withArrayIndenter(new DefaultIndenter("  ", "\n"));

    private static ObjectMapper configure(ObjectMapper m) {
        m.setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
        m.configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);
        m.configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true);
        m.configure(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES, false);
        m.configure(DeserializationFeature.ACCEPT_FLOAT_AS_INT, false);
        m.configure(MapperFeature.ALLOW_COERCION_OF_SCALARS, true);
        // 1.5 for a whole-number key is an error, never a truncation to 1
        m.coercionConfigFor(LogicalType.Integer).setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
        SimpleModule module = new SimpleModule("smoldpo-config");
        module.setDeserializers(new EnumsByWireName());
        module.addSerializer(Path.class, ToStringSerializer.instance);
        module.addDeserializer(Path.class, new PathDeserializer());
        module.addDeserializer(Boolean.class, new HfBoolean(Boolean.class));
        module.addDeserializer(boolean.class, new HfBoolean(boolean.class));
        module.addSerializer(Enum.class, new WireNameSerializer());
        m.registerModule(module);
        return m;
    }

    /** Enum constants by lower-case name, {@code -} read as {@code _}, in any case. */
    private static final class EnumsByWireName extends SimpleDeserializers {
        @Override
        public JsonDeserializer<?> findEnumDeserializer(Class<?> type, DeserializationConfig config, BeanDescription beanDesc) {
            return new WireNameEnum(type);
        }
    }

    private static final class WireNameEnum extends StdDeserializer<Object> {
        WireNameEnum(Class<?> type) {
            super(type);
        }

        @Override
        public Object deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                return ctxt.handleUnexpectedToken(handledType(), p);
            }
            String wanted = p.getText().strip().toLowerCase(Locale.ROOT).replace('-', '_');
            for (Object c : handledType().getEnumConstants()) {
                if (ConfigKeys.wireName((Enum<?>) c).equals(wanted)) {
                    return c;
                }
            }
            return ctxt.handleWeirdStringValue(handledType(), p.getText(), "not one of the choices");
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class WireNameSerializer extends StdSerializer<Enum> {
        WireNameSerializer() {
            super(Enum.class);
        }

        @Override
        public void serialize(Enum value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeString(ConfigKeys.wireName(value));
        }
    }

    private static final class HfBoolean extends StdDeserializer<Boolean> {
        HfBoolean(Class<?> type) {
            super(type);
        }

        @Override
        public Boolean deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonToken t = p.currentToken();
            if (t == JsonToken.VALUE_TRUE || t == JsonToken.VALUE_FALSE) {
                return t == JsonToken.VALUE_TRUE;
            }
            if (t == JsonToken.VALUE_STRING) {
                switch (p.getText().strip().toLowerCase(Locale.ROOT)) {
                    case "true", "t", "yes", "y", "on", "1":
                        return true;
                    case "false", "f", "no", "n", "off", "0":
                        return false;
                    default:
                        return (Boolean) ctxt.handleWeirdStringValue(Boolean.class, p.getText(), "not a boolean");
                }
            }
            return (Boolean) ctxt.handleUnexpectedToken(Boolean.class, p);
        }
    }

    private static final class PathDeserializer extends StdDeserializer<Path> {
        PathDeserializer() {
            super(Path.class);
        }

        @Override
        public Path deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                return (Path) ctxt.handleUnexpectedToken(Path.class, p);
            }
            return Path.of(p.getText());
        }
    }

    /** A list of strings from a YAML/JSON list of scalars or from one comma-separated string. */
    static final class CommaList extends StdDeserializer<List<String>> {
        CommaList() {
            super(List.class);
        }

        @Override
        @SuppressWarnings("unchecked")
        public List<String> deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            List<String> items = new ArrayList<>();
            if (p.currentToken() == JsonToken.VALUE_STRING) {
                for (String part : p.getText().split(",")) {
                    if (!part.isBlank()) {
                        items.add(part.strip());
                    }
                }
                return items;
            }
            if (p.currentToken() != JsonToken.START_ARRAY) {
                return (List<String>) ctxt.handleUnexpectedToken(List.class, p);
            }
            for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                if (!t.isScalarValue() || t == JsonToken.VALUE_NULL) {
                    return (List<String>) ctxt.handleUnexpectedToken(List.class, p);
                }
                items.add(p.getText());
            }
            return items;
        }
    }
}
