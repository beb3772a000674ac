package dev.smoldpo.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The images of one JSONL line: {@code images} (a list of strings, of {@code {"path": ...}} or of
 * {@code {"bytes": base64}} objects, TRL's vision column), else one {@code image_base64} (optionally a
 * {@code data:} URI), else one {@code image} (a string or such an object) and/or {@code image_path}.
 * A string is a path when it names a file (relative to the JSONL's folder), else a {@code data:} URI,
 * else plain base64 when it decodes to an image ({@link Base64Image}). Both JSONL readers use this:
 * the preference dataset (locating at open, reading per batch) and GRPO's prompts (reading at once).
 */
public final class JsonlImages {
    private JsonlImages() {}

    /** Whether a line names any image key (then the dataset is a vision dataset). */
    public static boolean mentionsImages(JsonNode line) {
        for (String k : new String[] {"images", "image", "image_path", "image_base64"}) {
            if (line.has(k) && !line.get(k).isNull()) {
                return true;
            }
        }
        return false;
    }

    /**
     * The bytes of every image of a line, read now (for a reader that keeps no index into the file).
     *
     * @param folder the JSONL's folder, against which relative paths resolve
     * @return the images in order; empty when the line names none
     * @throws IllegalArgumentException naming the first image that is neither a file nor inline bytes
     */
    public static List<byte[]> read(JsonNode line, Path folder) {
        ImageRefs.Resolved found = ImageRefs.resolve(descriptors(line), folder);
        if (found.problem() != null) {
            throw new IllegalArgumentException(found.problem());
        }
        List<byte[]> images = new ArrayList<>();
        for (int k = 0; k < found.refs().size(); k++) {
            String ref = found.refs().get(k);
            images.add(ref != null ? ImageRefs.read(ref) : inlineBytes(line, k));
        }
        return images;
    }

    /**
     * One descriptor per image, as {@link ImageRefs} reads them: {@code {"b": inline bytes?, "p": [paths]}},
     * and for an image given as a string, {@code "s"} (the string, for messages) and {@code "b64"} (whether
     * it is an image in plain base64, the fallback when no path names a file).
     */
    static List<JsonNode> descriptors(JsonNode line) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode list = line.get("images");
        if (list != null && list.isArray()) {
            list.forEach(item -> out.add(descriptor(item)));
        } else if (line.path("image_base64").isTextual() && !line.get("image_base64").asText().isBlank()) {
            out.add(inline());
        } else if (line.has("image") || line.has("image_path")) {
            ObjectNode d = descriptor(line.path("image"));
            d.withArray("p").add(line.path("image_path").asText(null));
            out.add(d);
        }
        return out;
    }

    /** The inline bytes of image {@code k} of a line (base64, or a data: URI), or null when there are none. */
    static byte[] inlineBytes(JsonNode line, int k) {
        JsonNode list = line.get("images");
        JsonNode item = list != null && list.isArray() ? list.get(k)
                : line.path("image_base64").isTextual() && !line.get("image_base64").asText().isBlank() ? line.get("image_base64")
                : line.get("image");
        String b64 = item == null ? null : item.isTextual() ? item.textValue() : item.path("bytes").asText(null);
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

    /** A string (path, data: URI or base64) or a {@code {"bytes", "path"}} object; anything else has no image. */
    private static ObjectNode descriptor(JsonNode item) {
        if (item.isTextual()) {
            String s = item.textValue();
            if (s.startsWith("data:")) {
                return inline();
            }
            ObjectNode d = paths(s);
            d.put("s", s);
            d.put("b64", Base64Image.isImage(s));
            return d;
        }
        if (item.isObject() && item.path("bytes").isTextual() && !item.get("bytes").asText().isBlank()) {
            return inline();
        }
        return paths(item.isObject() ? item.path("path").asText(null) : null);
    }

    private static ObjectNode inline() {
        ObjectNode d = JsonNodeFactory.instance.objectNode();
        d.put("b", true);
        d.putArray("p");
        return d;
    }

    private static ObjectNode paths(String path) {
        ObjectNode d = JsonNodeFactory.instance.objectNode();
        d.put("b", false);
        d.putArray("p").add(path);
        return d;
    }
}
