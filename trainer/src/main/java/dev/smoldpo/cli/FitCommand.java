package dev.smoldpo.cli;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.train.ToyTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Trains from an artifacts folder. Until the DPO pieces land, it trains the toy LoRA MLP. */
@Command(name = "fit", mixinStandardHelpOptions = true,
        description = "Train LoRA adapters with ONNX Runtime's training API (currently: the built-in toy model).")
public final class FitCommand implements Callable<Integer> {
    @Option(names = "--artifacts", description = "Artifacts folder (default: onnx-artifacts/toy, exported if missing).")
    Path artifacts;

    @Option(names = "--max-steps", defaultValue = "300", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--per-device-train-batch-size", defaultValue = "32", description = "Micro-batch size (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--gradient-accumulation-steps", defaultValue = "1", description = "Micro-batches per step (default: ${DEFAULT-VALUE}).")
    int accumulation;

    @Option(names = "--learning-rate", defaultValue = "0.01", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
    float learningRate;

    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads, 0 = ORT's default (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--logging-steps", defaultValue = "50", description = "Log every N steps (default: ${DEFAULT-VALUE}).")
    int loggingSteps;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the data order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (steps <= 0 || batchSize <= 0 || accumulation <= 0 || loggingSteps <= 0) {
            throw new IllegalArgumentException("--max-steps, --per-device-train-batch-size, --gradient-accumulation-steps"
                    + " and --logging-steps must be positive");
        }
        Path dir = artifacts != null ? artifacts : Path.of("onnx-artifacts", "toy");
        if (!Files.isRegularFile(dir.resolve("manifest.json"))) {
            if (artifacts != null) {
                throw new IllegalArgumentException("no artifacts in " + dir + " (manifest.json missing): run export-artifacts first");
            }
            System.out.println("no artifacts in " + dir + ": exporting the toy model first");
            ExportArtifactsCommand.exportToy(dir, "toy", AdamWConfig.DEFAULT.withMaxGradNorm(1.0).withWeightDecay(0));
        }
        ToyTrainer trainer = new ToyTrainer(ToyLoraMlp.standard(), 99);
        ToyTrainer.Result r = trainer.fit(new ArtifactFiles(dir),
                new ToyTrainer.Settings(steps, batchSize, accumulation, learningRate, threads, loggingSteps, seed), System.out);
        System.out.printf("done: eval_loss %.5f -> %.5f (%.1fx lower), %.2f ms/step; checkpoint: %s%n",
                r.initialEvalLoss(), r.finalEvalLoss(), r.initialEvalLoss() / r.finalEvalLoss(), r.secondsPerStep() * 1e3,
                dir.resolve("trained_checkpoint"));
        return 0;
    }
}
