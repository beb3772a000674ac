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
     * Where a row's images are, or why one cannot be used.
     *
     * @param refs    per image, null for bytes inline in the dataset file, else the image file; null when {@code problem} is set
     * @param problem null when every image was found, else what is wrong with the first one that was not
     */
    record Resolved(List<String> refs, String problem) {}

    /**
     * Resolves descriptors {@code {"b": inline bytes?, "p": [candidate paths]}} into refs: null for an
     * image whose bytes are inline, else the first candidate path naming an existing file. A descriptor
     * with {@code "b64": true} (a JSONL string that is an image in base64, {@link JsonlImages}) is inline
     * when no candidate names a file: a file of that name wins.
     */
    static Resolved resolve(Iterable<JsonNode> descriptors, Path base) {
        List<String> refs = new ArrayList<>();
        int k = 0;
        for (JsonNode d : descriptors) {
            k++;
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
            if (found != null) {
                refs.add(found.toString());
            } else if (d.path("b64").asBoolean(false)) {
                refs.add(null);
            } else {
                return new Resolved(null, "image " + k + " " + missing(d, base));
            }
        }
        return new Resolved(refs, null);
    }

    /** Why an image that is neither inline nor a file is missing, naming what the row gave. */
    private static String missing(JsonNode d, Path base) {
        List<String> looked = new ArrayList<>();
        d.path("p").forEach(p -> {
            if (p.isTextual() && !p.textValue().isBlank()) {
                looked.add(shorten(where(base, p.textValue()), 200));
            }
        });
        String paths = String.join(", ", looked);
        if (d.path("s").isTextual()) {
            return "\"" + shorten(d.get("s").textValue(), 60) + "\" is not a file, data: URI or base64 image"
                    + (looked.isEmpty() ? "" : " (" + paths + " not found)");
        }
        return looked.isEmpty() ? "has neither bytes nor a path" : "has no bytes and no file at " + paths;
    }

    /** At most {@code max} characters of a value quoted in a message (a base64 string can be megabytes). */
    private static String shorten(String s, int max) {
        return s.length() > max ? s.substring(0, max) + "... (" + s.length() + " characters)" : s;
    }

    /** A candidate path as it was looked up, for messages. */
    private static String where(Path base, String p) {
        Path resolved = resolved(base, p);
        return resolved == null ? p : resolved.normalize().toString();
    }

    private static Path existing(Path base, String p) {
        Path resolved = p == null || p.isBlank() ? null : resolved(base, p);
        return resolved != null && Files.isRegularFile(resolved) ? resolved.normalize() : null;
    }

    /** Absolute as it is, else against the dataset's folder; null for a string that is no valid path. */
    private static Path resolved(Path base, String p) {
        try {
            Path path = Path.of(p);
            return path.isAbsolute() ? path : base.resolve(path);
        } catch (RuntimeException e) { // InvalidPathException, e.g. a NUL character
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
