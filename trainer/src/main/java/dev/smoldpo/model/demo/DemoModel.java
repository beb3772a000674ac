package dev.smoldpo.model.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The complete built-in demo model folder: tiny SmolVLM weights and configs plus its own tokenizer. */
public final class DemoModel {
    public static final long DEFAULT_SEED = 42;

    private DemoModel() {}

    /** Writes (or reuses, when complete) the demo model for {@code seed} into {@code dir}. */
    public static Path write(Path dir, long seed) throws IOException {
        Path marker = dir.resolve(".complete-" + seed);
        if (Files.exists(marker)) {
            return dir;
        }
        Files.createDirectories(dir);
        DemoCheckpoint.write(dir, seed);
        DemoTokenizer.writeTo(dir);
        Files.writeString(marker, "demo model, seed " + seed + "\n");
        return dir;
    }
}
