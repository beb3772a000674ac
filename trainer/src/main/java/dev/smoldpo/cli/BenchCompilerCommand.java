package dev.smoldpo.cli;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.toy.DeepLoraMlp;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.train.ToyTrainer;
import dev.smoldpo.train.TrainingSession;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Prints compiler figures: artifact build time and peak heap for a large generated graph, and toy step time. */
@Command(name = "bench-compiler", mixinStandardHelpOptions = true,
        description = "Benchmark the training-graph compiler and the toy train step (prints figures).")
public final class BenchCompilerCommand implements Callable<Integer> {
    @Option(names = "--layers", defaultValue = "250", description = "Layers of the generated graph (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--width", defaultValue = "64", description = "Width of the generated graph (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--toy-steps", defaultValue = "300", description = "Toy train steps to time (default: ${DEFAULT-VALUE}).")
    int toySteps;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("smoldpo-bench");
        try {
            DeepLoraMlp deep = new DeepLoraMlp(layers, width, 8);
            System.gc();
            resetPeaks();
            long start = System.nanoTime();
            ArtifactFiles files = ArtifactBuilder.build(deep, AdamWConfig.DEFAULT, work.resolve("deep"), "deep", Map.of());
            double buildSeconds = (System.nanoTime() - start) / 1e9;
            long peakHeap = peakHeapBytes();
            ModelSummary training = ModelSummary.read(files.training());
            ModelSummary eval = ModelSummary.read(files.eval());
            System.out.printf("generated graph: %d layers x width %d: training graph %,d nodes, eval graph %,d nodes%n",
                    layers, width, training.nodeCount(), eval.nodeCount());
            System.out.printf("artifact build: %.2f s, peak heap %.1f MiB%n", buildSeconds, peakHeap / 1048576.0);

            start = System.nanoTime();
            try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 0)) {
                double loadSeconds = (System.nanoTime() - start) / 1e9;
                float[] x = new float[8 * width];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) Math.sin(i);
                }
                Map<String, OnnxTensor> in = new HashMap<>();
                in.put("x", s.floats(x, 8, width));
                in.put("target", s.floats(new float[8 * width], 8, width));
                s.ort().setLearningRate(1e-3f);
                s.ort().lazyResetGrad();
                s.trainStep(in);
                s.ort().optimizerStep();
                start = System.nanoTime();
                int steps = 5;
                for (int i = 0; i < steps; i++) {
                    s.ort().lazyResetGrad();
                    s.trainStep(in);
                    s.ort().optimizerStep();
                }
                System.out.printf("generated graph in ORT: session load %.2f s, train step (batch 8) %.1f ms%n",
                        loadSeconds, (System.nanoTime() - start) / 1e6 / steps);
                in.values().forEach(OnnxTensor::close);
            }

            ArtifactFiles toy = ExportArtifactsCommand.exportToy(work.resolve("toy"), "toy", AdamWConfig.DEFAULT);
            ToyTrainer.Result r = new ToyTrainer(ToyLoraMlp.standard(), 99).fit(toy,
                    new ToyTrainer.Settings(toySteps, 32, 1, 0.01f, 1, Integer.MAX_VALUE, 1), new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
            System.out.printf("toy LoRA MLP (8-32-4, r=4, batch 32, 1 thread): %.3f ms per step (trainStep + optimizerStep), "
                    + "eval loss %.4f -> %.4f over %d steps%n", r.secondsPerStep() * 1e3, r.initialEvalLoss(), r.finalEvalLoss(), toySteps);
        } finally {
            dev.smoldpo.artifacts.OutputFolder.delete(work);
        }
        return 0;
    }

    private static void resetPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
    }

    private static long peakHeapBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

}
