package dev.smoldpo.hf.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The expected content of an LFS file: its sha256 (lower-case hex) and size in bytes. Parsed from a
 * git-lfs pointer text:
 *
 * <pre>
 * version https://git-lfs.github.com/spec/v1
 * oid sha256:4d7a2146...
 * size 513016344
 * </pre>
 */
public record LfsPointer(String sha256, long size) {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public LfsPointer {
        sha256 = sha256.toLowerCase(Locale.ROOT);
        if (!HEX64.matcher(sha256).matches()) {
            throw new IllegalArgumentException("not a sha256 hex digest: " + sha256);
        }
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
    }

    /** Parses a git-lfs pointer; throws {@link IllegalArgumentException} naming what is missing. */
    public static LfsPointer parse(String text) {
        String version = null;
        String oid = null;
        Long size = null;
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty()) {
                continue;
            }
            int sp = line.indexOf(' ');
            if (sp < 0) {
                throw new IllegalArgumentException("malformed git-lfs pointer line: " + line);
            }
            String key = line.substring(0, sp);
            String value = line.substring(sp + 1).strip();
            switch (key) {
                case "version" -> version = value;
                case "oid" -> {
                    if (!value.startsWith("sha256:")) {
                        throw new IllegalArgumentException("git-lfs pointer oid is not sha256: " + value);
                    }
                    oid = value.substring("sha256:".length());
                }
                case "size" -> {
                    try {
                        size = Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("git-lfs pointer size is not a number: " + value);
                    }
                }
                default -> { /* extensions are allowed by the spec */ }
            }
        }
        if (version == null || !version.startsWith("https://git-lfs.github.com/spec/")) {
            throw new IllegalArgumentException("not a git-lfs pointer (no 'version https://git-lfs.github.com/spec/v1' line)");
        }
        if (oid == null) {
            throw new IllegalArgumentException("git-lfs pointer has no 'oid sha256:...' line");
        }
        if (size == null) {
            throw new IllegalArgumentException("git-lfs pointer has no 'size' line");
        }
        return new LfsPointer(oid, size);
    }

    /** Reads and parses a pointer file (e.g. {@code model.safetensors.lfs-pointer}). */
    public static LfsPointer read(Path file) throws IOException {
        if (Files.size(file) > 4096) {
            throw new IllegalArgumentException(file + " is too large to be a git-lfs pointer");
        }
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** The pointer text, as git-lfs writes it. */
    public String text() {
        return "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256 + "\nsize " + size + "\n";
    }
}
