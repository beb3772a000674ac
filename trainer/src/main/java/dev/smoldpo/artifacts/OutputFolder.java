package dev.smoldpo.artifacts;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Output folders written atomically: build everything in a temporary sibling, then swap it into
 * place, so a failure never leaves a half-written folder where the user looks.
 */
public final class OutputFolder {
    private OutputFolder() {}

    /** A new temporary folder next to {@code target}, named after it. */
    public static Path temporaryFor(Path target) {
        Path parent = target.toAbsolutePath().getParent();
        try {
            Files.createDirectories(parent);
            return Files.createTempDirectory(parent, "." + target.getFileName() + ".partial-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a folder next to " + target, e);
        }
    }

    /** Moves {@code built} to {@code target}, replacing what was there. */
    public static void replace(Path built, Path target) {
        try {
            if (Files.exists(target)) {
                Path old = Files.createTempDirectory(target.toAbsolutePath().getParent(), "." + target.getFileName() + ".old-");
                Files.move(target, old.resolve("previous"), StandardCopyOption.ATOMIC_MOVE);
                Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
                delete(old);
            } else {
                Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move the output into " + target, e);
        }
    }

    /** Deletes a folder tree, best effort: a leftover temporary folder is harmless and named as such. */
    public static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort, see above
        }
    }
}
