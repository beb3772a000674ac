package dev.smoldpo.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file, validated: an object of tensor entries ({@code dtype},
 * {@code shape}, {@code data_offsets} inside the data area, byte length equal to element count times
 * dtype size, no overlaps) plus an optional {@code __metadata__} string map.
 */
final class SafetensorsHeader {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private SafetensorsHeader() {}

    /** The tensor entries in header order; {@code __metadata__} goes into {@code metadataOut}. */
    static Map<String, TensorInfo> parse(Path path, byte[] headerBytes, long dataSize,
            Map<String, String> metadataOut) throws HfFormatException {
        JsonNode root;
        try {
            root = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new HfFormatException(path + ": header is " + JsonFiles.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new HfFormatException(path + ": header must be a JSON object");
        }
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new HfFormatException(path + ": __metadata__ must be an object of strings");
                }
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual()) {
                        throw new HfFormatException(path + ": __metadata__ value of '" + kv.getKey()
                                + "' is not a string");
                    }
                    metadataOut.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            out.put(name, parseEntry(path, name, v, dataSize));
        }
        checkOverlaps(path, out, dataSize);
        return out;
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode v, long dataSize)
            throws HfFormatException {
        String where = path + ": tensor '" + name + "'";
        if (!v.isObject()) {
            throw new HfFormatException(where + ": entry is not an object");
        }
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new HfFormatException(where + ": missing or non-string 'dtype'");
        }
        String dtype = dt.asText();
        SafetensorsDtype d = SafetensorsDtype.parse(dtype).orElseThrow(() -> new HfFormatException(
                where + ": unknown dtype '" + dtype + "'"));
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new HfFormatException(where + ": missing or non-array 'shape'");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode s = sh.get(i);
            if (!s.isIntegralNumber() || !s.canConvertToLong() || s.asLong() < 0) {
                throw new HfFormatException(where + ": shape " + JsonFiles.quote(sh) + " has an invalid dimension");
            }
            shape[i] = s.asLong();
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2
                || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new HfFormatException(where + ": 'data_offsets' must be two integers [begin, end)");
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new HfFormatException(where + ": invalid data_offsets [" + begin + ", " + end + ")");
        }
        if (end > dataSize) {
            throw new HfFormatException(where + ": data_offsets [" + begin + ", " + end
                    + ") lie outside the data area of " + dataSize + " bytes (offsets out of range or file truncated)");
        }
        long expected;
        try {
            long count = 1;
            for (long s : shape) {
                count = Math.multiplyExact(count, s);
            }
            expected = Math.multiplyExact(count, (long) d.byteSize());
        } catch (ArithmeticException ex) {
            throw new HfFormatException(where + ": shape " + JsonFiles.quote(sh) + " is too large");
        }
        if (end - begin != expected) {
            throw new HfFormatException(where + ": data_offsets [" + begin + ", " + end + ") span "
                    + (end - begin) + " bytes but dtype " + dtype + " x shape " + JsonFiles.quote(sh) + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkOverlaps(Path path, Map<String, TensorInfo> tensors, long dataSize)
            throws HfFormatException {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            if (prev != null && t.begin() < prev.end() && t.byteLength() > 0 && prev.byteLength() > 0) {
                throw new HfFormatException(path + ": tensor '" + t.name() + "' data [" + t.begin() + ", "
                        + t.end() + ") overlaps tensor '" + prev.name() + "' [" + prev.begin() + ", "
                        + prev.end() + ")");
            }
            if (prev == null || t.end() > prev.end()) {
                prev = t;
            }
        }
    }
}
