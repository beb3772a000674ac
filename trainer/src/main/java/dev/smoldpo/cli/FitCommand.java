package dev.smoldpo.cli;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.model.hub.HubDownloader;
import dev.smoldpo.model.hub.HubProgress;
import dev.smoldpo.model.hub.RepoType;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.train.DemoRecipe;
import dev.smoldpo.train.DpoTrainer;
import dev.smoldpo.train.ToyTrainer;
import dev.smoldpo.train.support.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/** DPO training of the LoRA adapters; with no arguments, the built-in demo end to end. */
@Command(name = "fit", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train LoRA adapters with DPO on ONNX Runtime's training API.",
                "Settings use TRL DPOConfig / HF TrainingArguments / PEFT names, from --config (YAML or JSON) and",
                "flags that override it, e.g. --learning-rate 5e-6 --num-train-epochs 3 --loss-type ipo.",
                "With no dataset: the built-in demo (tiny SmolVLM, coloured-shapes preferences), exported if needed.",
                "Keys: see --list-keys."})
public final class FitCommand implements Callable<Integer> {
    @Option(names = "--config", description = "A YAML or JSON file of training settings.")
    Path configFile;

    @Option(names = "--artifacts", description = "Artifacts folder from export-artifacts (default: onnx-artifacts/demo).")
    Path artifacts;

    @Option(names = "--dataset", description = "Preference data: RLHF-V parquet, generic parquet or JSONL, or a hub dataset id "
            + "such as openbmb/RLHF-V-Dataset (downloaded when online). Default: the generated demo set.")
    Path dataset;

    @Option(names = "--resume", arity = "0..1", fallbackValue = "latest",
            description = "Resume from the latest checkpoint in output_dir, or from the given checkpoint folder.")
    String resume;

    @Option(names = "--precompute-ref", description = "Compute every reference log-prob up front, with a progress bar (the default; same as --precompute-ref-log-probs true).")
    boolean precomputeRef;

    @Option(names = "--list-keys", description = "Print the setting keys and their defaults, then exit.")
    boolean listKeys;

    @Option(names = "--demo", description = "Start from the demo recipe's settings (implied when no dataset is given).")
    boolean demoRecipe;

    @Option(names = "--toy", description = "Train the toy LoRA MLP instead (a smoke test of the compiler).")
    boolean toy;

    /** Stops right after step N's checkpoint, as if the process had been killed there (tests of resume). */
    @Option(names = "--stop-after-step", hidden = true)
    long stopAfterStep;

    @Unmatched
    List<String> flags;

    @Override
    public Integer call() throws Exception {
        if (toy) {
            return fitToy();
        }
        if (listKeys) {
            TrainConfig.defaults().values().forEach((k, v) -> System.out.printf("%-30s %s%n", k, v));
            return 0;
        }
        boolean demo = dataset == null && (configFile == null || TrainConfig.load(configFile).dataset() == null);
        TrainConfig config = demo || demoRecipe ? DemoRecipe.config() : TrainConfig.defaults();
        if (configFile != null) {
            config = config.withOverrides(stringValues(TrainConfig.load(configFile)));
        }
        Map<String, String> overrides = parseFlags(flags);
        if (resume != null) {
            overrides.put("resume_from_checkpoint", resume);
        }
        if (precomputeRef) {
            overrides.put("precompute_ref_log_probs", "true");
        }
        config = config.withOverrides(overrides);
        Path artifactsDir = artifacts != null ? artifacts : config.artifactsDir() != null ? config.artifactsDir()
                : Path.of("onnx-artifacts", "demo");
        Path data = dataset != null ? dataset : config.dataset();
        if ((demo || demoRecipe) && !Files.isRegularFile(artifactsDir.resolve(ArtifactFiles.MANIFEST))) {
            System.out.println("no artifacts in " + artifactsDir + ": exporting the built-in demo model");
            if (Main.run("export-artifacts", "--out", artifactsDir.toString()) != 0) {
                return 1;
            }
        }
        if (demo) {
            if (!Files.isRegularFile(artifactsDir.resolve(ArtifactFiles.MANIFEST))) {
                System.out.println("no artifacts in " + artifactsDir + ": exporting the built-in demo model");
                if (Main.run("export-artifacts", "--out", artifactsDir.toString()) != 0) {
                    return 1;
                }
            }
            data = config.outputDir().resolve("demo_dataset.parquet");
            if (!Files.exists(data)) {
                Files.createDirectories(config.outputDir());
                DemoDataset.write(data, DemoRecipe.PAIRS, DemoRecipe.DATA_SEED, false);
                System.out.println("generated the demo preference set (" + DemoRecipe.PAIRS + " pairs) at " + data);
            }
        } else if (data == null) {
            throw new IllegalArgumentException("no dataset: pass --dataset FILE or set dataset in the config");
        } else {
            data = resolveDataset(data);
        }
        // recorded in the run's train_config.json, so `export --run` finds the artifacts again
        config = config.withOverrides(Map.of("artifacts_dir", artifactsDir.toAbsolutePath().toString()));
        try (DpoTrainer trainer = new DpoTrainer(config, artifactsDir, data, System.out)) {
            trainer.stopAfter(stopAfterStep);
            DpoTrainer.Summary s = trainer.fit();
            System.out.println();
            System.out.printf("done: %d steps in %.1f s (%.2f pairs/s, %.0f tokens/s; seconds by section %s); "
                            + "reference forward passes %d; truncated pairs %d; skipped %s; peak RSS %.2f GiB%n",
                    s.steps(), s.trainSeconds(), s.pairsTrained() / s.trainSeconds(), s.tokensTrained() / s.trainSeconds(),
                    s.secondsBySection(), s.referenceForwardPasses(), s.truncatedPairs(), s.skipped(),
                    BenchExportCommand.peakRssBytes() / 1073741824.0);
            if (s.firstEval() != null) {
                System.out.printf("eval before training: rewards/accuracies %.3f, loss %.4f%n",
                        s.firstEval().get("eval_rewards/accuracies"), s.firstEval().get("eval_loss"));
            }
            if (s.lastEval() != null) {
                System.out.printf("eval after training:  rewards/accuracies %.3f, loss %.4f, margins %.4f%n",
                        s.lastEval().get("eval_rewards/accuracies"), s.lastEval().get("eval_loss"),
                        s.lastEval().get("eval_rewards/margins"));
            }
            System.out.println("metrics: " + s.outputDir().resolve("metrics.jsonl") + "; plots: " + s.outputDir()
                    + "/{loss,rewards_accuracies,rewards_margins}.png; checkpoints: " + s.outputDir() + "/checkpoint-*");
        }
        return 0;
    }

    /**
     * A local file or folder as it is; otherwise a hub dataset id (e.g. openbmb/RLHF-V-Dataset),
     * downloaded once into the cache (resumable, HF_TOKEN for private sets).
     */
    static Path resolveDataset(Path data) throws Exception {
        String id = data.toString();
        if (Files.exists(data) || !id.matches("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")) {
            return data;
        }
        System.out.println(data + " is not a local file: downloading the dataset " + id + " from the hub");
        try (HubDownloader hub = HubDownloader.builder(HubDownloader.defaultCacheDir(System.getenv()))
                .repoType(RepoType.DATASET).progress(HubProgress.console()).build()) {
            return hub.download(id).dir();
        }
    }

    private static Map<String, String> stringValues(TrainConfig fromFile) {
        Map<String, String> m = new LinkedHashMap<>();
        TrainConfig defaults = TrainConfig.defaults();
        fromFile.values().forEach((k, v) -> {
            if (v != null && !v.equals(defaults.get(k))) {
                m.put(k, v instanceof List<?> l ? String.join(",", l.stream().map(String::valueOf).toList()) : String.valueOf(v));
            }
        });
        return m;
    }

    /** {@code --key value} and {@code --key=value} pairs; a flag without a value means true. */
    static Map<String, String> parseFlags(List<String> args) {
        Map<String, String> m = new LinkedHashMap<>();
        if (args == null) {
            return m;
        }
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "' (settings are --key value)");
            }
            int eq = a.indexOf('=');
            if (eq > 0) {
                m.put(a.substring(2, eq), a.substring(eq + 1));
            } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("--")) {
                m.put(a.substring(2), args.get(++i));
            } else {
                m.put(a.substring(2), "true");
            }
        }
        return m;
    }

    private int fitToy() throws Exception {
        Map<String, String> f = parseFlags(flags);
        Path dir = artifacts != null ? artifacts : Path.of("onnx-artifacts", "toy");
        if (!Files.isRegularFile(dir.resolve("manifest.json"))) {
            if (artifacts != null) {
                throw new IllegalArgumentException("no artifacts in " + dir + " (manifest.json missing): run export-artifacts --toy first");
            }
            ExportArtifactsCommand.exportToy(dir, "toy", AdamWConfig.DEFAULT.withMaxGradNorm(1.0).withWeightDecay(0));
        }
        int steps = Integer.parseInt(f.getOrDefault("max-steps", "300"));
        ToyTrainer.Result r = new ToyTrainer(ToyLoraMlp.standard(), 99).fit(new ArtifactFiles(dir),
                new ToyTrainer.Settings(steps, 32, 1, Float.parseFloat(f.getOrDefault("learning-rate", "0.01")),
                        Integer.parseInt(f.getOrDefault("threads", "0")), Integer.parseInt(f.getOrDefault("logging-steps", "50")), 42),
                System.out);
        System.out.printf("done: eval_loss %.5f -> %.5f (%.1fx lower), %.2f ms/step; checkpoint: %s%n",
                r.initialEvalLoss(), r.finalEvalLoss(), r.initialEvalLoss() / r.finalEvalLoss(), r.secondsPerStep() * 1e3,
                dir.resolve("trained_checkpoint"));
        return 0;
    }
}
