package dev.smoldpo.runtime.cuda;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * One place the CUDA library search looks, in its order: a label saying what it is (and, when it
 * holds no folder, why), and the folders it stands for, searched in their order.
 */
public record SearchPlace(String label, List<Path> folders) {
    public SearchPlace {
        folders = List.copyOf(folders);
    }

    /** One line of the "looked in" list of an error message. */
    String describe() {
        return folders.isEmpty() ? label + ": no folders"
                : label + ": " + folders.stream().map(Path::toString).collect(Collectors.joining(", "));
    }
}
