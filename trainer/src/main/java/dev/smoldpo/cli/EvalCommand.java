package dev.smoldpo.cli;

import dev.smoldpo.train.DpoTrainer;
import dev.smoldpo.train.config.ConfigLayers;
import dev.smoldpo.train.config.ResolvedConfig;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.support.RunCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/** The DPO metrics of a saved checkpoint on a dataset split. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Evaluate a saved checkpoint: loss, rewards/chosen|rejected|accuracies|margins, logps and logits",
                "(eval_-prefixed, TRL names) on a dataset split. A checkpoint-N folder of a fit run is evaluated with",
                "that run's settings (its train_config.json: artifacts, dataset, split, lengths, image size);",
                "--config and --key value flags override them, as for fit."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "A checkpoint-N folder from fit, or an ORT checkpoint file.")
    Path checkpoint;

    @Option(names = "--artifacts", description = "Artifacts folder (default: the run's, else onnx-artifacts/demo).")
    Path artifacts;

    @Option(names = "--dataset", description = "Preference data (default: the run's dataset).")
    Path dataset;

    @Option(names = "--split", defaultValue = "test", description = "test, train or all (default: ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--config", description = "A YAML or JSON file of settings over the run's.")
    Path configFile;

    @Option(names = "--demo", description = "Start from the demo recipe's settings (for a checkpoint outside a run folder).")
    boolean demo;

    @Unmatched
    List<String> flags;

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(checkpoint)) {
            // before the settings: a mistyped step would otherwise find no run folder, hence no dataset
            throw new IllegalArgumentException(RunCheckpoints.doesNotExist(checkpoint));
        }
        Map<String, String> given = FitCommand.parseFlags(flags);
        if (dataset != null) {
            given.put("dataset", dataset.toString());
        }
        if (artifacts != null) {
            given.put("artifacts_dir", artifacts.toString());
        }
        // the copy saved with the checkpoint first: a resumed run may have changed the folder's since
        Path runConfig = RunSetup.settingsOf(checkpoint, RunCheckpoints.CONFIG_FILE).orElse(null);
        if (runConfig != null) {
            System.out.println("settings: the run's " + runConfig + (configFile != null || !given.isEmpty() ? ", with overrides" : ""));
        }
        RunSetup setup = RunSetup.layers(runConfig, configFile, given, demo);
        ConfigLayers layers = setup.layers();
        Path artifactsDir = RunSetup.artifacts(layers, setup.demo() && runConfig == null);
        ResolvedConfig resolved = layers.resolve();
        TrainConfig config = resolved.config();
        if (config.dataset() == null) {
            throw new IllegalArgumentException("no dataset: pass --dataset (the checkpoint is not inside a fit run folder "
                    + "whose train_config.json names one)");
        }
        Path data = DatasetSource.of(config.dataset()).fetch();
        try (DpoTrainer trainer = new DpoTrainer(resolved, artifactsDir, data, System.out)) {
            Map<String, Double> metrics = trainer.evaluateCheckpoint(checkpoint, split);
            // the file scored: a run with eval_dataset scores its test split there, not in the training file
            System.out.println("split " + split + " of " + trainer.datasetOf(split) + ", checkpoint " + checkpoint + ":");
            metrics.forEach((k, v) -> System.out.printf("  %-28s %.6f%n", k, v));
        }
        return 0;
    }
}
