package dev.smoldpo.cli;

import dev.smoldpo.train.DemoRecipe;
import dev.smoldpo.train.DpoTrainer;
import dev.smoldpo.train.support.TrainConfig;
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
                "(eval_-prefixed, TRL names) on a dataset split. Settings as for fit (--config, --key value)."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "A checkpoint-N folder from fit, or an ORT checkpoint file.")
    Path checkpoint;

    @Option(names = "--artifacts", description = "Artifacts folder (default: onnx-artifacts/demo).")
    Path artifacts;

    @Option(names = "--dataset", required = true, description = "Preference data (the same split settings as the training run give the same held-out pairs).")
    Path dataset;

    @Option(names = "--split", defaultValue = "test", description = "test, train or all (default: ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--config", description = "A YAML or JSON file of settings (e.g. the run's train_config.json).")
    Path configFile;

    @Option(names = "--demo", description = "Start from the demo recipe's settings.")
    boolean demo;

    @Unmatched
    List<String> flags;

    @Override
    public Integer call() throws Exception {
        TrainConfig config = configFile != null ? TrainConfig.load(configFile) : demo ? DemoRecipe.config() : TrainConfig.defaults();
        config = config.withOverrides(FitCommand.parseFlags(flags));
        Path artifactsDir = artifacts != null ? artifacts : Path.of("onnx-artifacts", "demo");
        try (DpoTrainer trainer = new DpoTrainer(config, artifactsDir, dataset, System.out)) {
            Map<String, Double> metrics = trainer.evaluateCheckpoint(checkpoint, split);
            System.out.println("split " + split + " of " + dataset + ", checkpoint " + checkpoint + ":");
            metrics.forEach((k, v) -> System.out.printf("  %-28s %.6f%n", k, v));
        }
        return 0;
    }
}
