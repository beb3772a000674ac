package dev.smoldpo.cli;

import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.deploy.DeploymentVariants;
import dev.smoldpo.export.peft.PeftAdapterExporter;
import dev.smoldpo.train.support.RunCheckpoints;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** A trained run → a PEFT adapter and/or a merged ONNX deployment folder. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Export a fit run's adapters: a PEFT adapter (adapter_model.safetensors + adapter_config.json) and/or",
                "a merged ONNX folder (onnx/vision_encoder, embed_tokens, decoder_model_merged) for transformers.js,",
                "Optimum, ONNX Runtime and trainer.jar generate."})
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--run", required = true, description = "The fit or grpo output folder (its train_config.json or grpo_config.json names the artifacts).")
    Path run;

    @Option(names = "--checkpoint", description = "A checkpoint-N folder of the run (default: the latest).")
    Path checkpoint;

    @Option(names = "--format", defaultValue = "both", description = "peft, onnx or both (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--out", description = "Output folder (default: <run>/export); peft/ and onnx/ go inside.")
    Path out;

    @Option(names = "--base-model", description = "base_model_name_or_path for adapter_config.json (default: the exported checkpoint's folder).")
    String baseModel;

    @Option(names = "--dtype", defaultValue = "fp32", description = "Precisions of the ONNX graphs, comma-separated, any of "
            + "fp32, fp16, q8, q4, q4f16 (transformers.js' dtype names; files onnx/<graph><suffix>.onnx; default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--block-size", defaultValue = "32", description = "Weights per scale of 4-bit quantization (q4, q4f16) and of "
            + "quantized embedding tables: a power of two >= 16 (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("peft") && !format.equals("onnx") && !format.equals("both")) {
            throw new IllegalArgumentException("--format must be peft, onnx or both, not " + format);
        }
        if (format.equals("peft")) {
            for (String onnxOnly : new String[] {"--dtype", "--block-size"}) {
                if (spec.commandLine().getParseResult().hasMatchedOption(onnxOnly)) {
                    throw new IllegalArgumentException(onnxOnly + " shapes the ONNX graphs, which --format peft does not write: "
                            + "drop it, or export with --format both");
                }
            }
        }
        DeploymentVariants variants;
        try {
            variants = DeploymentVariants.parse(dtype, blockSize);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--dtype / --block-size: " + e.getMessage(), e);
        }
        RunSettings settings = RunSettings.of(run);
        Path ckpt = checkpoint != null ? checkpoint : new RunCheckpoints(run, null).latest()
                .orElseThrow(() -> new IllegalArgumentException(run + " has no checkpoint-N folder"));
        Path ortCheckpoint = RunCheckpoints.load(ckpt).ortCheckpoint();
        Path target = out != null ? out : run.resolve("export");
        if (!format.equals("onnx")) {
            Path peft = PeftAdapterExporter.export(settings.artifactsDir(), ortCheckpoint, target.resolve("peft"), baseModel);
            System.out.println("PEFT adapter: " + peft);
        }
        if (!format.equals("peft")) {
            Path onnx = DeploymentExporter.export(settings.artifactsDir(), ortCheckpoint, target.resolve("onnx"),
                    settings.imageLongestEdge(), variants);
            System.out.println("merged ONNX model (" + String.join(", ", variants.precisions().stream().map(Object::toString).toList())
                    + "): " + onnx + "  (trainer.jar generate --model " + onnx + " --dtype " + variants.defaultPrecision()
                    + " --image ... --prompt ...)");
        }
        return 0;
    }

    /** What export needs of a run: its artifacts and image size, from a fit's or a grpo run's settings. */
    record RunSettings(Path artifactsDir, Integer imageLongestEdge) {
        static RunSettings of(Path run) throws java.io.IOException {
            Path fit = run.resolve("train_config.json");
            Path grpo = run.resolve("grpo_config.json");
            RunSettings s;
            if (Files.isRegularFile(fit)) {
                TrainConfig c = TrainConfig.load(fit);
                s = new RunSettings(c.artifactsDir(), c.imageLongestEdge());
            } else if (Files.isRegularFile(grpo)) {
                dev.smoldpo.grpo.GrpoConfig c = new dev.smoldpo.grpo.GrpoSettings().file(grpo).bind();
                s = new RunSettings(c.artifactsDir(), c.imageLongestEdge());
            } else {
                throw new IllegalArgumentException(run + " is not a fit or grpo run (no train_config.json or grpo_config.json)");
            }
            if (s.artifactsDir() == null) {
                throw new IllegalArgumentException(run + "'s settings do not name its artifacts_dir");
            }
            return s;
        }
    }
}
