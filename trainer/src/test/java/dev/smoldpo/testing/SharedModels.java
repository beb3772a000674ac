package dev.smoldpo.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real SmolVLM-256M-Instruct config, tokenizer and processor files in {@code ../shared/models}
 * (CI has them beside the clone; they are never copied into the repository).
 */
public final class SharedModels {
    private SharedModels() {}

    /** {@code shared/models/SmolVLM-256M-Instruct}, found by walking up from the working directory. */
    public static Path smolVlmDir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolveSibling("shared").resolve("models/SmolVLM-256M-Instruct");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("../shared/models/SmolVLM-256M-Instruct not found above " + Path.of("").toAbsolutePath());
    }

    public static Path smolVlmConfig() {
        return smolVlmDir().resolve("config.json");
    }
}
