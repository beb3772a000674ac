package dev.smoldpo.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where each image of a row is: in the dataset file itself (parquet bytes, base64 in a JSONL line) or in
 * an image file named by a path (relative paths resolved against the dataset's folder).
 */
final class ImageRefs {
    private ImageRefs() {}

    /**
     * Resolves descriptors {@code {"b": inline bytes?, "p": [candidate paths]}} into refs: null for an
     * image whose bytes are inline, else the first candidate path naming an existing file.
     *
     * @return the refs, or null when some image has neither bytes nor an existing file
     */
    static List<String> resolve(Iterable<JsonNode> descriptors, Path base) {
        List<String> refs = new ArrayList<>();
        for (JsonNode d : descriptors) {
            if (d.path("b").asBoolean(false)) {
                refs.add(null);
                continue;
            }
            Path found = null;
            for (JsonNode p : d.path("p")) {
                found = p.isTextual() ? existing(base, p.textValue()) : null;
                if (found != null) {
                    break;
                }
            }
            if (found == null) {
                return null;
            }
            refs.add(found.toString());
        }
        return refs;
    }

    private static Path existing(Path base, String p) {
        if (p == null || p.isBlank()) {
            return null;
        }
        try {
            Path path = Path.of(p);
            Path resolved = path.isAbsolute() ? path : base.resolve(path);
            return Files.isRegularFile(resolved) ? resolved.normalize() : null;
        } catch (RuntimeException e) { // not a valid path string
            return null;
        }
    }

    /** An image file's bytes; empty when it vanished since the dataset was opened (ImageCheck reports it). */
    static byte[] read(String path) {
        try {
            return Files.readAllBytes(Path.of(path));
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
