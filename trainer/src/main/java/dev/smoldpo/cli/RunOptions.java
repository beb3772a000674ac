package dev.smoldpo.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options {@code fit} and {@code grpo} share (a picocli mixin): settings file, resume, key list, --key value flags. */
final class RunOptions {
    @Option(names = "--config", description = "A YAML or JSON file of settings, flat key: value (e.g. a fit run's "
            + "train_config.json for fit, a grpo run's grpo_config.json for grpo).")
    Path configFile;

    @Option(names = "--resume", description = "Resume from the latest checkpoint in output_dir "
            + "(from another one: --resume-from-checkpoint DIR).")
    boolean resume;

    @Option(names = "--list-keys", description = "Print every setting key with its type, default and description, then exit.")
    boolean listKeys;

    /** Stops right after step N's checkpoint, as if the process had been killed there (tests of resume). */
    @Option(names = "--stop-after-step", hidden = true)
    long stopAfterStep;

    /**
     * The command's --key value flags (its own {@code @Unmatched} list: picocli fills that only on the command,
     * not in a mixin); --resume adds resume_from_checkpoint latest unless a checkpoint is named.
     */
    Map<String, String> given(List<String> flags) {
        Map<String, String> given = FitCommand.parseFlags(flags);
        if (resume && given.keySet().stream().noneMatch(k -> k.replace('-', '_').equals("resume_from_checkpoint"))) {
            given.put("resume_from_checkpoint", "latest");
        }
        return given;
    }
}
