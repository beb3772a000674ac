package dev.smoldpo.cli;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.onnx.ModelSummary;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Builds ORT training artifacts. Until SmolVLM export lands, it exports the toy LoRA MLP. */
@Command(name = "export-artifacts", mixinStandardHelpOptions = true,
        description = "Build ONNX Runtime training artifacts (training, eval, optimizer graphs, checkpoint, manifest).")
public final class ExportArtifactsCommand implements Callable<Integer> {
    @Option(names = "--out", description = "Output folder (default: onnx-artifacts/<name>).")
    Path out;

    @Option(names = "--name", defaultValue = "toy", description = "Export name (default: ${DEFAULT-VALUE}).")
    String name;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Global gradient-norm clipping, 0 = off (default: ${DEFAULT-VALUE}).")
    double maxGradNorm;

    @Option(names = "--weight-decay", defaultValue = "0.0", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Override
    public Integer call() {
        Path dir = out != null ? out : Path.of("onnx-artifacts", name);
        long start = System.nanoTime();
        ArtifactFiles files = export(dir, name, AdamWConfig.DEFAULT.withMaxGradNorm(maxGradNorm).withWeightDecay(weightDecay));
        ModelSummary training = ModelSummary.read(files.training());
        System.out.printf("exported %s to %s in %.2f s (training graph: %d nodes)%n", name, dir,
                (System.nanoTime() - start) / 1e9, training.nodeCount());
        return 0;
    }

    static ArtifactFiles export(Path dir, String name, AdamWConfig adamw) {
        return ArtifactBuilder.build(ToyLoraMlp.standard(), adamw, dir, name, Map.of("model", "toy-lora-mlp"));
    }
}
