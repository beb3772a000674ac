package dev.smoldpo.cli;

import dev.smoldpo.grpo.GrpoConfig;
import dev.smoldpo.grpo.GrpoDataset;
import dev.smoldpo.grpo.GrpoDemo;
import dev.smoldpo.grpo.GrpoPrompt;
import dev.smoldpo.grpo.GrpoSettings;
import dev.smoldpo.grpo.GrpoTrainer;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.processor.SmolVlmProcessor;
import dev.smoldpo.train.config.ConfigLayers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/** GRPO training of the LoRA adapters from the live policy's samples; with no arguments, the built-in demo. */
@Command(name = "grpo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train LoRA adapters with GRPO (TRL's GRPOTrainer): G completions per prompt sampled from the",
                "current adapters, scored by rewards, pushed towards the better-than-their-group ones.",
                "Settings use TRL GRPOConfig names as --key value flags (e.g. --num-generations 8 --beta 0.04) over",
                "a --config file over the demo recipe over the defaults; `grpo --list-keys` lists them.",
                "With no dataset: the built-in demo (tiny SmolVLM, 'What colour is the shape?'), exported if needed."})
public final class GrpoCommand implements Callable<Integer> {
    static final Path DEMO_ARTIFACTS = Path.of("onnx-artifacts", "grpo-demo");

    @Mixin
    RunOptions run;

    @Unmatched
    List<String> flags;

    @Option(names = "--artifacts", description = "Artifacts folder from export-artifacts --loss grpo, as for fit "
            + "(the key is artifacts_dir; default: onnx-artifacts/grpo-demo).")
    Path artifactsOption;

    /** The layers: defaults, the demo recipe, a resumed run's own grpo_config.json, the config file, the flags. */
    private GrpoSettings settings(boolean demo, Path runConfig, Map<String, String> given) throws java.io.IOException {
        GrpoSettings settings = new GrpoSettings();
        if (demo) {
            settings.layer(GrpoDemo.recipe(), GrpoDemo.RECIPE);
        }
        if (runConfig != null) {
            settings.file(runConfig);
        }
        if (run.configFile != null) {
            settings.file(run.configFile);
        }
        return settings.layer(given, "command line");
    }

    @Override
    public Integer call() throws Exception {
        if (run.listKeys) {
            GrpoSettings.describe().forEach(System.out::println);
            return 0;
        }
        Map<String, String> given = run.given(flags);
        if (artifactsOption != null) {
            if (given.keySet().stream().anyMatch(k -> ConfigLayers.flagToKey(k).equals("artifacts_dir"))) {
                throw new IllegalArgumentException("--artifacts and --artifacts-dir name the same setting: give one of them");
            }
            given.put("artifacts_dir", artifactsOption.toString());
        }
        GrpoSettings probe = new GrpoSettings();
        if (run.configFile != null) {
            probe.file(run.configFile);
        }
        // only whether a dataset is named: the other keys are checked once the recipe is layered under them
        boolean demo = !probe.layer(given, "command line").hasValue("dataset");
        GrpoSettings settings = settings(demo, null, given);
        GrpoConfig config = settings.bind();
        // a resumed run continues with its own settings, as fit's does (RunSetup.forFit)
        Path runConfig = RunSetup.resumedSettings(config.resumeFromCheckpoint(), config.outputDir(), GrpoTrainer.CONFIG_FILE);
        if (runConfig != null) {
            settings = settings(demo, runConfig, given);
            config = settings.bind();
            demo = config.dataset() == null; // the run's own dataset, when it had one
        }
        if (!demo && config.artifactsDir() == null) {
            throw new IllegalArgumentException("artifacts_dir: a dataset needs the artifacts of its model, from "
                    + "export-artifacts --loss grpo (with --kl for beta > 0)");
        }
        Path artifacts = config.artifactsDir() != null ? config.artifactsDir() : DEMO_ARTIFACTS;
        if (!Files.isRegularFile(artifacts.resolve("manifest.json"))) {
            // the demo model is exported on demand for a demo run only (as fit does): a mistyped path beside a
            // dataset must not train the demo model on the user's prompts
            String source = settings.source("artifacts_dir");
            if (!demo) {
                throw new IllegalArgumentException("no artifacts in " + artifacts + " (manifest.json missing; artifacts_dir from "
                        + source + "): export them first with ./tools/export-artifacts.sh MODEL --loss grpo"
                        + (config.beta() > 0 ? " --kl" : "") + " --out " + artifacts);
            }
            System.out.println("no artifacts in " + artifacts + ": exporting the built-in demo model with the GRPO loss");
            List<String> args = new java.util.ArrayList<>(List.of("export-artifacts", "--loss", "grpo", "--out", artifacts.toString()));
            if (config.beta() > 0) {
                args.add("--kl");
            }
            if (Main.run(args.toArray(String[]::new)) != 0) {
                throw new IllegalStateException("the demo export failed (see above)");
            }
        }
        ModelConfig model = ModelConfig.load(artifacts);
        List<List<GrpoPrompt>> prompts;
        try (SmolVlmProcessor processor = SmolVlmProcessor.load(artifacts, model,
                config.imageLongestEdge() == null ? 0 : config.imageLongestEdge(), Device.CPU)) {
            prompts = demo ? GrpoDemo.prompts(processor, config.answerPrefix())
                    : GrpoDataset.load(config.dataset(), processor, config.answerPrefix(), config.evalSamples(),
                            config.everyRewardReadsTheAnswer());
        }
        // recorded absolute, so a resume or an export from another working folder finds them
        settings.resolved("artifacts_dir", artifacts.toAbsolutePath().toString());
        if (config.dataset() != null) {
            settings.resolved("dataset", config.dataset().toAbsolutePath().toString());
        }
        GrpoTrainer trainer = new GrpoTrainer(config, System.out);
        trainer.stopAfter(run.stopAfterStep);
        Map<Long, Double> curve = trainer.train(artifacts, prompts.get(0), prompts.get(1),
                settings.toJson().toPrettyString());
        System.out.println("greedy held-out accuracy by step: " + curve);
        return 0;
    }
}
