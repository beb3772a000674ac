package dev.smoldpo.runtime.resources;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Native libraries copied out of the jar into the per-user cache (ORT's, and a bundled CUDA runtime). */
public final class NativeResources {
    private NativeResources() {}

    /**
     * Copies {@code url} to {@code target} unless a regular file of its size is already there. Writes
     * beside the target and renames, so a crash or a concurrent run never leaves a torn library.
     */
    public static void extract(URL url, Path target) {
        try {
            Files.createDirectories(target.getParent());
            long size = url.openConnection().getContentLengthLong();
            if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Files.size(target) == size) {
                return;
            }
            Path partial = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
            try (InputStream in = url.openStream()) {
                Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + url + " into " + target.getParent(), e);
        }
    }
}
