package dev.smoldpo.cli;

import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.train.DemoRecipe;
import dev.smoldpo.train.config.ArtifactSettings;
import dev.smoldpo.train.config.ConfigLayers;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.support.RunCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The settings of a {@code fit} or {@code eval} command, layered in one order: general defaults, the
 * demo recipe (when no dataset is given, or with --demo), a config file, then flags; and the artifacts
 * they point at, whose export-time settings are applied last ({@link ArtifactSettings}).
 */
record RunSetup(ConfigLayers layers, boolean demo) {
    static final Path DEMO_ARTIFACTS = Path.of("onnx-artifacts", "demo");

    /** @param base a first layer under the file and flags (e.g. a run's train_config.json), or null */
    static RunSetup layers(Path base, Path configFile, Map<String, String> flags, boolean forceDemo) {
        ConfigLayers probe = ConfigLayers.defaults();
        if (base != null) {
            probe.file(base);
        }
        if (configFile != null) {
            probe.file(configFile);
        }
        boolean demo = forceDemo || probe.flags(flags).bind().dataset() == null;
        ConfigLayers layers = ConfigLayers.defaults();
        if (demo) {
            layers.recipe("demo recipe", DemoRecipe.overrides());
        }
        if (base != null) {
            layers.file(base);
        }
        if (configFile != null) {
            layers.file(configFile);
        }
        return new RunSetup(layers.flags(flags), demo);
    }

    static RunSetup layers(Path configFile, Map<String, String> flags, boolean forceDemo) {
        return layers(null, configFile, flags, forceDemo);
    }

    /**
     * fit's layers. A resumed run (resume_from_checkpoint set) continues with its own settings: the
     * train_config.json of the checkpoint's run folder lies under the config file and the flags, as the
     * run's settings lie under eval's. Without it, a plain {@code fit --resume --output-dir DIR} would
     * fall back to the defaults and, with no dataset named, to the demo recipe and data (HF's Trainer
     * takes the settings from the script that resumes; here the command line is the script).
     */
    static RunSetup forFit(Path configFile, Map<String, String> flags, boolean forceDemo) {
        RunSetup fresh = layers(null, configFile, flags, forceDemo);
        TrainConfig given = fresh.layers().bind();
        Path runConfig = resumedSettings(given.resumeFromCheckpoint(), given.outputDir(), RunCheckpoints.CONFIG_FILE);
        return runConfig == null ? fresh : layers(runConfig, configFile, flags, false);
    }

    /**
     * The settings file of the checkpoint that {@code resumeFromCheckpoint} names (see
     * {@link RunCheckpoints#resolveResume}), announced as the run's; null when the run does not resume.
     */
    static Path resumedSettings(String resumeFromCheckpoint, Path outputDir, String runFileName) {
        Path file = RunCheckpoints.resolveResume(resumeFromCheckpoint, outputDir)
                .flatMap(saved -> settingsOf(saved.dir(), runFileName)).orElse(null);
        if (file != null) {
            System.out.println("resuming with the settings of " + file + " (the config file and flags given here override them)");
        }
        return file;
    }

    /**
     * The settings a checkpoint was trained with: {@code runFileName} saved in the checkpoint folder (fit
     * keeps a copy of train_config.json there), else its run folder's (older checkpoints, and grpo's).
     *
     * @param checkpoint a checkpoint-N folder, or the ORT checkpoint file in one
     */
    static Optional<Path> settingsOf(Path checkpoint, String runFileName) {
        Path folder = Files.isDirectory(checkpoint) ? checkpoint.toAbsolutePath() : checkpoint.toAbsolutePath().getParent();
        if (folder == null) {
            return Optional.empty();
        }
        Path own = folder.resolve(runFileName);
        if (Files.isRegularFile(own)) {
            return Optional.of(own);
        }
        return Optional.ofNullable(folder.getParent()).map(run -> run.resolve(runFileName)).filter(Files::isRegularFile);
    }

    /**
     * The artifacts folder ({@code artifacts_dir}, else onnx-artifacts/demo), exporting the demo model
     * there when a demo run finds none; applies the manifest's export-time settings to the layers.
     */
    static Path artifacts(ConfigLayers layers, boolean demo) {
        TrainConfig asGiven = layers.bind();
        Path dir = asGiven.artifactsDir() != null ? asGiven.artifactsDir() : DEMO_ARTIFACTS;
        Path manifest = dir.resolve(ArtifactFiles.MANIFEST);
        if (demo && !Files.isRegularFile(manifest)) {
            System.out.println("no artifacts in " + dir + ": exporting the built-in demo model");
            if (Main.run("export-artifacts", "--out", dir.toString()) != 0) {
                throw new IllegalStateException("the demo export failed (see above)");
            }
        }
        if (!Files.isRegularFile(manifest)) {
            throw new IllegalArgumentException("no artifacts in " + dir + " (manifest.json missing): run "
                    + "./tools/export-artifacts.sh first, or pass --artifacts");
        }
        ArtifactSettings.apply(layers, Manifest.read(manifest), manifest);
        if (asGiven.artifactsDir() != null) {
            layers.resolved("artifacts_dir", dir.toAbsolutePath());
        } else {
            layers.set("artifacts_dir", dir.toAbsolutePath(), ConfigLayers.DEFAULT, false);
        }
        return dir;
    }
}
