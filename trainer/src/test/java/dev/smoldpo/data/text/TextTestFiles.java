package dev.smoldpo.data.text;

import java.nio.file.Path;

/** Locates shared/models/SmolVLM-256M-Instruct (see {@link dev.smoldpo.testing.SharedModels}). */
final class TextTestFiles {
    private TextTestFiles() {}

    static Path smolVlmDir() {
        return dev.smoldpo.testing.SharedModels.smolVlmDir();
    }
}
