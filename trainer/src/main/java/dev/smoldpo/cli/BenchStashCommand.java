package dev.smoldpo.cli;

import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.autodiff.BackwardStash;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.ActivationRecompute;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.FrozenWeights;
import dev.smoldpo.model.smolvlm.Precision;
import dev.smoldpo.model.smolvlm.SmolVlmDpoModel;
import dev.smoldpo.onnx.Dim;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The memory a train step keeps from its forward pass for its backward pass ({@link BackwardStash}), per
 * precision and recompute setting, computed from the training graph alone: no session runs, so it holds
 * for any device, bf16 included. It is the part of the peak that grows with the pairs per step; the fixed
 * part (weights, workspace) and the transient memory of the node running at the peak come on top.
 */
@Command(name = "bench-stash", mixinStandardHelpOptions = true,
        description = "Print the bytes a train step keeps from its forward pass for its backward pass, per --recompute setting (no session runs).")
public final class BenchStashCommand implements Callable<Integer> {
    @Option(names = "--config", description = "A SmolVLM config.json whose shapes to measure with random weights; "
            + "without it the demo model.")
    Path config;

    @Option(names = "--precision", defaultValue = "bf16", description = "fp32, bf16 or fp16 (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--recompute", split = ",", defaultValue = "none,attention,vision,layers",
            description = "Settings to compare (default: ${DEFAULT-VALUE}).")
    List<String> recompute;

    @Option(names = "--pairs", defaultValue = "1", description = "Pairs per train step (default: ${DEFAULT-VALUE}).")
    int pairs;

    @Option(names = "--layout", defaultValue = "shared_prefix", description = "shared_prefix or concatenated (default: ${DEFAULT-VALUE}).")
    String layout;

    @Mixin
    PairLengthOptions lengths;

    @Override
    public Integer call() throws Exception {
        if (pairs < 1) {
            throw new IllegalArgumentException("--pairs must be positive, got " + pairs);
        }
        Path work = Files.createTempDirectory("smoldpo-bench-stash");
        try {
            Path model = config == null ? DemoModel.write(work.resolve("demo"), DemoModel.DEFAULT_SEED)
                    : RandomCheckpoint.write(config, work.resolve("model"), 1, SafetensorsDtype.BF16);
            measure(config == null ? "demo" : config.toAbsolutePath().getParent().getFileName().toString(), model);
        } finally {
            dev.smoldpo.artifacts.OutputFolder.delete(work);
        }
        return 0;
    }

    private void measure(String label, Path model) throws Exception {
        ModelConfig cfg = ModelConfig.load(model);
        Precision p = Precision.fromConfig(precision);
        DpoLayout l = DpoLayout.fromConfig(layout);
        Map<String, TensorData> batch = new DpoCollator(cfg).collate(
                lengths.pairs(cfg).first(pairs), l);
        System.out.printf("[%s] %s, %d pair(s) per step (%s, %d question and 2 x %d answer tokens, one tile each): "
                + "bytes the backward pass reads from the forward pass%n", label, p.configName(), pairs, l.configName(),
                lengths.questionTokens, lengths.answerTokens);
        try (SafetensorsFile file = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            FrozenWeights frozen = new FrozenWeights(file);
            for (String setting : recompute) {
                ActivationRecompute r = ActivationRecompute.fromConfig(setting);
                SmolVlmDpoModel dpo = new SmolVlmDpoModel(cfg, frozen, LoraConfig.defaults(8, 8), DpoConfig.DEFAULT, 1,
                        p.types(), r);
                Graph training = ArtifactBuilder.trainingGraph(dpo, dpo.trainableParameters());
                Value loss = training.outputs().getFirst(); // trainingGraph's first output is the loss
                BackwardStash.Bytes b = BackwardStash.of(training, loss).bytes(dims(training, batch));
                String top = b.byProducer().entrySet().stream().limit(4)
                        .map(e -> String.format("%s %,.0f", e.getKey(), e.getValue() / 1e6)).collect(Collectors.joining("; "));
                System.out.printf("  recompute %-9s %,9.1f MB per step, %,8.1f MB per pair (%,.1f MB of it held for a shape "
                                + "alone)%s; largest (MB): %s%n", r.configName(), b.total() / 1e6, b.total() / 1e6 / pairs,
                        b.shapeOnly() / 1e6 / pairs, b.unsized() == 0 ? "" : " (+" + b.unsized() + " values of unknown size)", top);
            }
        }
    }

    /** The graph's symbolic dims as the batch's tensors give them. */
    static Map<String, Long> dims(Graph graph, Map<String, TensorData> batch) {
        Map<String, Long> dims = new HashMap<>();
        for (Value input : graph.inputs()) {
            TensorData fed = batch.get(input.name());
            if (fed == null || !input.shape().hasRank()) {
                continue;
            }
            long[] shape = fed.dims();
            for (int i = 0; i < shape.length && i < input.rank(); i++) {
                Dim d = input.shape().dim(i);
                if (d.isSymbolic()) {
                    Long seen = dims.putIfAbsent(d.symbol(), shape[i]);
                    if (seen != null && seen != shape[i]) {
                        throw new IllegalStateException("dim '" + d.symbol() + "' is " + seen + " and " + shape[i] + " in the batch");
                    }
                }
            }
        }
        return dims;
    }
}
