package dev.smoldpo.data.text;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates shared/models/SmolVLM-256M-Instruct by walking up from the working directory. */
final class TextTestFiles {
    private TextTestFiles() {}

    static Path smolVlmDir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared/models/SmolVLM-256M-Instruct");
            if (Files.isDirectory(candidate)) return candidate;
        }
        throw new IllegalStateException("shared/models/SmolVLM-256M-Instruct not found above "
                + Path.of("").toAbsolutePath());
    }
}
