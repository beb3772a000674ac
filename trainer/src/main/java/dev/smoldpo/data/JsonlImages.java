package dev.smoldpo.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The images of one JSONL line: {@code images} (a list of paths, of {@code {"path": ...}} or of
 * {@code {"bytes": base64}} objects, TRL's vision column), else one {@code image} or {@code image_path}
 * (a path) or {@code image_base64} (optionally a {@code data:} URI).
 */
final class JsonlImages {
    private JsonlImages() {}

    /** Whether a line names any image key (then the dataset is a vision dataset). */
    static boolean mentionsImages(JsonNode line) {
        for (String k : new String[] {"images", "image", "image_path", "image_base64"}) {
            if (line.has(k) && !line.get(k).isNull()) {
                return true;
            }
        }
        return false;
    }

    /** One descriptor per image, as {@link ImageRefs} reads them: {@code {"b": inline bytes?, "p": [paths]}}. */
    static List<JsonNode> descriptors(JsonNode line) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode list = line.get("images");
        if (list != null && list.isArray()) {
            for (JsonNode item : list) {
                if (item.isTextual()) {
                    out.add(descriptor(isDataUri(item.textValue()), item.textValue()));
                } else if (item.isObject()) {
                    out.add(descriptor(item.path("bytes").isTextual() && !item.get("bytes").asText().isBlank(),
                            item.path("path").asText(null)));
                } else {
                    out.add(descriptor(false, null));
                }
            }
            return out;
        }
        if (line.path("image_base64").isTextual() && !line.get("image_base64").asText().isBlank()) {
            out.add(descriptor(true, null));
        } else if (line.has("image") || line.has("image_path")) {
            ObjectNode d = descriptor(false, line.path("image").isTextual() ? line.get("image").asText() : null);
            d.withArray("p").add(line.path("image_path").asText(null));
            out.add(d);
        }
        return out;
    }

    /** The inline bytes of image {@code k} of a line (base64, or a data: URI), or null when there are none. */
    static byte[] inlineBytes(JsonNode line, int k) {
        JsonNode list = line.get("images");
        String b64;
        if (list != null && list.isArray()) {
            JsonNode item = list.get(k);
            b64 = item == null ? null : item.isTextual() ? item.textValue() : item.path("bytes").asText(null);
        } else {
            b64 = line.path("image_base64").asText(null);
        }
        if (b64 == null) {
            return null;
        }
        int comma = b64.startsWith("data:") ? b64.indexOf(',') : -1;
        try {
            return Base64.getMimeDecoder().decode((comma >= 0 ? b64.substring(comma + 1) : b64).strip());
        } catch (IllegalArgumentException e) {
            return new byte[0]; // invalid base64: reported by ImageCheck as missing
        }
    }

    private static boolean isDataUri(String s) {
        return s.startsWith("data:");
    }

    private static ObjectNode descriptor(boolean inline, String path) {
        ObjectNode d = JsonNodeFactory.instance.objectNode();
        d.put("b", inline);
        d.putArray("p").add(inline ? null : path);
        return d;
    }
}
