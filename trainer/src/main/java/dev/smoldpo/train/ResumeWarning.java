package dev.smoldpo.train;

import dev.smoldpo.train.config.ConfigDiff;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.support.RunCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The warning of a resume whose settings differ from those the checkpoint was trained with, naming the
 * keys that differ and their values. The checkpoint's settings are its own copy of {@code
 * train_config.json}; a checkpoint saved before such copies were kept falls back on the run folder's
 * file as this session found it (before rewriting it), when its hash is the checkpoint's.
 */
final class ResumeWarning {
    private ResumeWarning() {}

    /** The run folder's {@code train_config.json} as read now, before the session rewrites it; empty when unreadable. */
    static Optional<TrainConfig> readFolderConfig(Path outputDir) {
        Path file = outputDir.resolve("train_config.json");
        return Files.isRegularFile(file) ? load(file) : Optional.empty();
    }

    /**
     * "" when {@code now} trains as the checkpoint was trained, else {@code "; warning: the training
     * config differs from the checkpoint's: beta 0.1 -> 0.2, ..."}.
     *
     * @param folderConfig what {@link #readFolderConfig} read before this session rewrote the file
     */
    static String of(RunCheckpoints.Saved checkpoint, Optional<TrainConfig> folderConfig, TrainConfig now) {
        String hash = checkpoint.state().configHash();
        if (hash.equals(now.hash())) {
            return "";
        }
        Optional<TrainConfig> before = checkpoint.config().flatMap(ResumeWarning::load)
                .or(() -> folderConfig.filter(c -> c.hash().equals(hash)));
        if (before.isEmpty()) {
            return "; warning: the training config differs from the checkpoint's (which predates saving its settings "
                    + "with it, so the keys cannot be named; compare with the train_config.json of the run that saved it)";
        }
        // no key differs when only the hash's recipe did (e.g. a key added since, at its default)
        String changes = String.join(", ", ConfigDiff.trainedKeys(before.get(), now));
        return changes.isEmpty() ? "" : "; warning: the training config differs from the checkpoint's: " + changes;
    }

    private static Optional<TrainConfig> load(Path file) {
        try {
            return Optional.of(TrainConfig.load(file));
        } catch (RuntimeException unreadable) {
            return Optional.empty(); // e.g. written by a version with other keys: the warning then names none
        }
    }
}
