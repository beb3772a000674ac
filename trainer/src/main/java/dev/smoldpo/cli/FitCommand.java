package dev.smoldpo.cli;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.train.DemoRecipe;
import dev.smoldpo.train.DpoTrainer;
import dev.smoldpo.train.FitSummary;
import dev.smoldpo.train.ToyTrainer;
import dev.smoldpo.train.config.ConfigLayers;
import dev.smoldpo.train.config.ResolvedConfig;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/** DPO training of the LoRA adapters; with no arguments, the built-in demo end to end. */
@Command(name = "fit", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train LoRA adapters with DPO on ONNX Runtime's training API.",
                "Settings use TRL DPOConfig / HF TrainingArguments / PEFT names, as --key value flags (e.g.",
                "--learning-rate 5e-6 --num-train-epochs 3) over a --config file (YAML or JSON) over the recipe",
                "(the demo's own defaults) over the general defaults. Settings fixed at export (LoRA, loss type)",
                "come from the artifacts. `fit --list-keys` lists every key with its type, default and meaning.",
                "With no dataset: the built-in demo (tiny SmolVLM, coloured-shapes preferences), exported if needed.",
                "An output folder that holds a run is resumed with --resume, or restarted with --overwrite-output-dir."})
public final class FitCommand implements Callable<Integer> {
    @Mixin
    RunOptions run;

    @Unmatched
    List<String> flags;


    @Option(names = "--artifacts", description = "Artifacts folder from export-artifacts (default: onnx-artifacts/demo).")
    Path artifacts;

    @Option(names = "--dataset", description = "Preference data: RLHF-V parquet, generic parquet or JSONL, or a hub dataset id "
            + "such as openbmb/RLHF-V-Dataset (downloaded when online; hf://datasets/owner/name forces the hub). Default: the generated demo set.")
    Path dataset;


    @Option(names = "--precompute-ref", description = "Compute every reference log-prob up front, with a progress bar (the default; same as --precompute-ref-log-probs true).")
    boolean precomputeRef;


    @Option(names = "--demo", description = "Start from the demo recipe's settings (implied when no dataset is given).")
    boolean demoRecipe;

    @Option(names = "--toy", description = "Train the toy LoRA MLP instead (a smoke test of the compiler).")
    boolean toy;



    @Override
    public Integer call() throws Exception {
        if (toy) {
            return fitToy();
        }
        if (run.listKeys) {
            SettingsHelp.print(System.out);
            return 0;
        }
        Map<String, String> given = run.given(flags);
        putIfSet(given, "dataset", dataset);
        putIfSet(given, "artifacts_dir", artifacts);
        if (precomputeRef) {
            given.put("precompute_ref_log_probs", "true");
        }
        RunSetup setup = RunSetup.forFit(run.configFile, given, demoRecipe);
        ConfigLayers layers = setup.layers();
        TrainConfig asGiven = layers.bind();
        // before the artifacts (whose demo export takes a while): a mistyped dataset path fails at once
        DatasetSource source = asGiven.dataset() == null ? null : DatasetSource.of(asGiven.dataset());
        DatasetSource evalSource = asGiven.evalDataset() == null ? null : DatasetSource.of(asGiven.evalDataset());
        Path artifactsDir = RunSetup.artifacts(layers, setup.demo());
        Path data;
        if (source != null) {
            data = source.fetch();
            if (source.isLocal()) {
                layers.resolved("dataset", source.local().toAbsolutePath());
            }
        } else if (setup.demo()) {
            data = asGiven.outputDir().resolve("demo_dataset.parquet").toAbsolutePath();
            if (!Files.exists(data)) {
                Files.createDirectories(asGiven.outputDir());
                DemoDataset.write(data, DemoRecipe.PAIRS, DemoRecipe.DATA_SEED, false);
                System.out.println("generated the demo preference set (" + DemoRecipe.PAIRS + " pairs) at " + data);
            }
            layers.set("dataset", data, "demo (generated)", false);
        } else {
            throw new IllegalArgumentException("no dataset: pass --dataset FILE or set dataset in the config");
        }
        if (evalSource != null && evalSource.isLocal()) {
            // recorded absolute like dataset, so that eval --checkpoint finds it from any working folder
            layers.resolved("eval_dataset", evalSource.local().toAbsolutePath().normalize());
        }
        ResolvedConfig resolved = layers.resolve();
        resolved.warnings().forEach(w -> System.out.println("warning: " + w));
        try (DpoTrainer trainer = new DpoTrainer(resolved, artifactsDir, data, System.out)) {
            trainer.stopAfter(run.stopAfterStep);
            Optional<FitSummary> s = trainer.fit();
            if (s.isPresent()) {
                System.out.println();
                s.get().lines(BenchExportCommand.peakRssBytes() / 1073741824.0).forEach(System.out::println);
            }
        }
        return 0;
    }

    private static void putIfSet(Map<String, String> m, String key, Object value) {
        if (value != null) {
            m.put(key, value.toString());
        }
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
                m.put(a.substring(2), ConfigLayers.NO_VALUE); // true for a boolean key, an error for others
            }
        }
        return m;
    }

    private int fitToy() throws Exception {
        Map<String, String> f = parseFlags(flags);
        // the toy's settings are all numbers: a flag without a value is named, not parsed as "true"
        f.replaceAll((k, v) -> ConfigLayers.flagValue(v, ConfigLayers.flagToKey(k), Number.class, "command line (--" + k + ")"));
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
