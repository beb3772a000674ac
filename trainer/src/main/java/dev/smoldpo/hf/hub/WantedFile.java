package dev.smoldpo.hf.hub;

import java.util.Objects;

/**
 * A file to fetch from a repository.
 *
 * @param name path inside the repository ({@code /}-separated, e.g. {@code onnx/model.onnx})
 * @param optional skipped without error when the repository does not have it
 * @param expected expected sha256 and size (e.g. from a git-lfs pointer), or null to trust the hub's
 *     headers / API listing
 */
public record WantedFile(String name, boolean optional, LfsPointer expected) {
    public WantedFile {
        Objects.requireNonNull(name, "name");
    }

    public static WantedFile required(String name) {
        return new WantedFile(name, false, null);
    }

    public static WantedFile optional(String name) {
        return new WantedFile(name, true, null);
    }

    public WantedFile withExpected(LfsPointer pointer) {
        return new WantedFile(name, optional, pointer);
    }
}
