package dev.smoldpo.cli;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.ActivationRecompute;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Prints export and train-step figures for the demo model and, given its config, SmolVLM-256M's shapes. */
@Command(name = "bench-export", mixinStandardHelpOptions = true,
        description = "Benchmark the SmolVLM export (time, peak RSS, node counts) and the train step on CPU or CUDA (prints figures).")
public final class BenchExportCommand implements Callable<Integer> {
    @Option(names = "--config", description = "A SmolVLM config.json whose shapes to benchmark with random weights "
            + "(e.g. SmolVLM-256M-Instruct's); without it only the demo model runs.")
    Path config;

    @Option(names = "--steps", defaultValue = "3", description = "Timed train steps after two warm-up steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Mixin
    PairLengthOptions lengths;

    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads, 0 = all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--layouts", split = ",", defaultValue = "shared_prefix,concatenated",
            description = "Layouts to time (default: ${DEFAULT-VALUE}).")
    List<String> layouts;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, or cuda with the -Port-gpu build (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--pairs", split = ",", defaultValue = "1",
            description = "Pairs per train step, one timing per value, e.g. 1,4,8 (default: ${DEFAULT-VALUE}).")
    List<Integer> pairsPerStep;

    @Option(names = "--recompute", defaultValue = "none", paramLabel = "none|attention|vision|layers",
            description = "Activations the exported training graph recomputes in its backward pass (default: ${DEFAULT-VALUE}).")
    String recompute;

    @Option(names = "--export-only", description = "Export (and print the export figures) without timing train steps.")
    boolean exportOnly;

    @Option(names = "--export-to", description = "Keep the exports in this folder (artifacts-<label>) instead of a temporary one.")
    Path exportTo;

    @Option(names = "--artifacts", description = "Only time the train steps of this existing export, in this fresh process "
            + "(so the peak RSS is training's alone, without the export's heap).")
    Path artifacts;

    @Override
    public Integer call() throws Exception {
        if (artifacts != null) {
            System.out.printf("machine: %d cores; train steps of %s%n", Runtime.getRuntime().availableProcessors(), artifacts);
            timeSteps(artifacts.getFileName().toString(), new ArtifactFiles(artifacts), ModelConfig.load(artifacts));
            return 0;
        }
        Path work = exportTo != null ? Files.createDirectories(exportTo) : Files.createTempDirectory("smoldpo-bench-export");
        try {
            System.out.printf("machine: %d cores, max heap %d MiB%n", Runtime.getRuntime().availableProcessors(),
                    Runtime.getRuntime().maxMemory() >> 20);
            run("demo", DemoModel.write(work.resolve("demo-model"), DemoModel.DEFAULT_SEED), work);
            if (config != null) {
                long start = System.nanoTime();
                Path model = RandomCheckpoint.write(config, work.resolve("model"), 1, SafetensorsDtype.BF16);
                System.out.printf("%n[%s] random bf16 checkpoint with its shapes written in %.1f s (%,d bytes)%n",
                        config, (System.nanoTime() - start) / 1e9, Files.size(model.resolve("model.safetensors")));
                run(config.toAbsolutePath().getParent().getFileName().toString(), model, work);
            }
        } finally {
            if (exportTo == null) {
                dev.smoldpo.artifacts.OutputFolder.delete(work);
            }
        }
        return 0;
    }

    private void run(String label, Path model, Path work) throws Exception {
        ModelConfig cfg = ModelConfig.load(model);
        long start = System.nanoTime();
        ArtifactFiles files = SmolVlmExporter.export(model, work.resolve("artifacts-" + label), new SmolVlmExporter.Options(label,
                LoraConfig.defaults(8, 8), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 1)
                .withRecompute(ActivationRecompute.fromConfig(recompute)));
        double exportSeconds = (System.nanoTime() - start) / 1e9;
        long exportRss = peakRssBytes();
        System.out.printf("%n[%s] export %.1f s, peak RSS so far %.2f GiB; nodes: training %,d, eval %,d, reference %,d; "
                        + "weights file %,d bytes%n", label, exportSeconds, exportRss / 1073741824.0,
                ModelSummary.read(files.training()).nodeCount(), ModelSummary.read(files.eval()).nodeCount(),
                ModelSummary.read(files.dir().resolve(SmolVlmExporter.REFERENCE)).nodeCount(), Files.size(files.weights()));
        if (!exportOnly) {
            timeSteps(label, files, cfg);
        }
    }

    private void timeSteps(String label, ArtifactFiles files, ModelConfig cfg) throws Exception {
        boolean cuda = switch (device.toLowerCase()) {
            case "cpu" -> false;
            case "cuda", "gpu" -> true;
            default -> throw new IllegalArgumentException("--device must be cpu or cuda, not '" + device + "'");
        };
        for (int pairs : pairsPerStep) {
            if (pairs < 1) {
                throw new IllegalArgumentException("--pairs must be positive, got " + pairs);
            }
            for (DpoLayout layout : layouts.stream().map(DpoLayout::fromConfig).toList()) {
                timeSteps(label, files, cfg, layout, pairs, cuda);
            }
        }
    }

    private void timeSteps(String label, ArtifactFiles files, ModelConfig cfg, DpoLayout layout, int pairs, boolean cuda)
            throws Exception {
        List<DpoCollator.Pair> batch = lengths.pairs(cfg).first(pairs);
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(cfg).collate(batch, layout));
        float[] refs = new float[pairs];
        Arrays.fill(refs, -100f);
        float[] weights = new float[pairs];
        Arrays.fill(weights, 1f);
        in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, 0.1f));
        in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {pairs}, weights));
        in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {pairs}, refs));
        in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {pairs}, refs));
        long open = System.nanoTime();
        try (TrainingSession s = TrainingSession.open(files.training(), files.eval(), files.optimizer(), files.checkpoint(),
                threads, cuda)) {
            double openSeconds = (System.nanoTime() - open) / 1e9;
            Map<String, OnnxTensor> feed = OrtTensors.of(s.env(), in);
            try {
                s.ort().setLearningRate(1e-5f);
                int warmup = 2; // ORT settles its allocations over the first two steps
                double[] times = new double[steps + warmup];
                Map<String, float[]> first = null;
                for (int i = 0; i < times.length; i++) {
                    long t = System.nanoTime();
                    s.ort().lazyResetGrad();
                    Map<String, float[]> out = s.trainStep(feed);
                    s.ort().optimizerStep();
                    times[i] = (System.nanoTime() - t) / 1e9;
                    first = first == null ? out : first;
                }
                // the first step's outputs (before any update): the same synthetic pairs and weights give
                // the same numbers in every precision and on every device, up to rounding
                System.out.printf("[%s] %-13s %s first-step outputs: loss %s chosen_logps %s rejected_logps %s%n", label,
                        layout.configName(), cuda ? "cuda" : "cpu", Arrays.toString(first.get(SmolVlmInputs.LOSS)),
                        Arrays.toString(first.get(SmolVlmInputs.CHOSEN_LOGPS)),
                        Arrays.toString(first.get(SmolVlmInputs.REJECTED_LOGPS)));
                double[] timed = Arrays.copyOfRange(times, warmup, times.length);
                Arrays.sort(timed);
                long tokens = in.get(SmolVlmInputs.INPUT_IDS).elementCount();
                double median = timed[timed.length / 2];
                // between steps the activations are freed and the weights are resident (ORT may map them and
                // touch them first in the first step), so peak minus this is the steps' own peak; glibc returns
                // freed memory to the system only for blocks above its mmap threshold (MALLOC_MMAP_THRESHOLD_)
                long betweenSteps = rssBytes("VmRSS:");
                System.out.printf("[%s] %-13s %s session %.1f s; train step (%d pairs, %d token slots): first step %.2f s, "
                                + "median %.3f s -> %.3f pairs/s, %.0f tokens/s; peak RSS %.2f GiB, %.2f GiB above the RSS "
                                + "between steps%n", label,
                        layout.configName(), cuda ? "cuda" : "cpu", openSeconds, pairs, tokens, times[0], median,
                        pairs / median, tokens / median, peakRssBytes() / 1073741824.0,
                        (peakRssBytes() - betweenSteps) / 1073741824.0);
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }

    /** VmHWM of this process (Linux), in bytes; -1 elsewhere. */
    static long peakRssBytes() {
        return rssBytes("VmHWM:");
    }

    /** A /proc/self/status memory line (VmHWM: peak, VmRSS: now) in bytes; -1 elsewhere. */
    private static long rssBytes(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception ignored) {
            // not Linux
        }
        return -1;
    }
}
