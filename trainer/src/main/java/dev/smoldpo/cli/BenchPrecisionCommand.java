package dev.smoldpo.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.FrozenWeights;
import dev.smoldpo.model.smolvlm.NumericTypes;
import dev.smoldpo.model.smolvlm.RoundingErrorBound;
import dev.smoldpo.model.smolvlm.SmolVlmDpoModel;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.runtime.SessionSettings;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The reference model's completion log-probs in float32 against two CPU-runnable stand-ins for a
 * half-precision export: the bf16 twin (the same bfloat16 weight bytes a bf16 export stores,
 * widened to float32 in the graph, float32 arithmetic) and the fp16 graph itself (ORT's CPU provider
 * has float16 MatMul). Both must stay within {@link RoundingErrorBound}'s bound for bfloat16 weight
 * rounding; float16 rounds 8 times finer, which covers its rounding of activations as well as
 * weights (up to 4 roundings per weight stage, a factor 2 in RMS). Real bfloat16 arithmetic needs
 * the GPU.
 */
@Command(name = "bench-precision", mixinStandardHelpOptions = true,
        description = {"Compare completion log-probs of the float32 reference graph with the bf16-weight twin (bfloat16 "
                + "weights, float32 compute) and the fp16 graph on the CPU, against the first-order bound for bfloat16 "
                + "weight rounding (prints figures; exit code 1 when a difference exceeds the bound).",
                "Random float32 weights: the demo model's, or a given config's shapes (e.g. SmolVLM-256M-Instruct's)."})
public final class BenchPrecisionCommand implements Callable<Integer> {
    @Option(names = "--config", description = "A SmolVLM config.json whose shapes to use with random float32 weights "
            + "(e.g. SmolVLM-256M-Instruct's); without it the demo model.")
    Path config;

    @Option(names = "--pairs", defaultValue = "2", description = "Pairs scored, one 512-tile image each (default: ${DEFAULT-VALUE}).")
    int pairs;

    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads, 0 = all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    /** One completion: its token count, float32 log-prob, the twin's and the fp16 graph's differences, and the bound. */
    public record Row(int pair, String completion, int tokens, double fp32, double twinDelta, double fp16Delta, double bound) {}

    /** The comparison: the bound's ingredients, a row per completion, and the weights files' sizes. */
    public record Result(RoundingErrorBound bound, List<Row> rows, Map<String, Long> weightsBytes) {
        public boolean withinBound() {
            return rows.stream().allMatch(r -> Math.abs(r.twinDelta()) <= r.bound() && Math.abs(r.fp16Delta()) <= r.bound());
        }
    }

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("smoldpo-bench-precision");
        try {
            long start = System.nanoTime();
            Path model = config == null ? DemoModel.write(work.resolve("demo-model"), DemoModel.DEFAULT_SEED)
                    : RandomCheckpoint.write(config, work.resolve("model"), 1, SafetensorsDtype.F32);
            System.out.printf("%s with random float32 weights (%.1f s)%n", config == null ? "demo model" : config,
                    (System.nanoTime() - start) / 1e9);
            Result result = compare(model, pairs, threads, work, System.out);
            return result.withinBound() ? 0 : 1;
        } finally {
            dev.smoldpo.artifacts.OutputFolder.delete(work);
        }
    }

    /** Scores {@code pairCount} synthetic pairs with the three reference graphs of {@code modelDir}'s checkpoint. */
    public static Result compare(Path modelDir, int pairCount, int threads, Path work, PrintStream out) throws Exception {
        ModelConfig cfg = ModelConfig.load(modelDir);
        List<DpoCollator.Pair> pairs = syntheticPairs(cfg, pairCount);
        Map<String, TensorData> inputs = new DpoCollator(cfg).collate(pairs, DpoLayout.SHARED_PREFIX);
        Map<String, float[][]> logps = new HashMap<>();
        Map<String, Long> sizes = new java.util.LinkedHashMap<>();
        RoundingErrorBound bound;
        try (SafetensorsFile file = SafetensorsFile.open(modelDir.resolve("model.safetensors"))) {
            bound = RoundingErrorBound.of(cfg, file, DType.BFLOAT16);
            out.println(bound);
            Map<String, NumericTypes> variants = new java.util.LinkedHashMap<>();
            variants.put("fp32", NumericTypes.FP32);
            variants.put("bf16-weight twin", NumericTypes.widened(DType.BFLOAT16));
            variants.put("fp16", NumericTypes.of(DType.FLOAT16));
            for (Map.Entry<String, NumericTypes> v : variants.entrySet()) {
                long start = System.nanoTime();
                Path dir = Files.createDirectories(work.resolve("reference-" + v.getValue().weights() + "-" + v.getValue().compute()));
                SmolVlmDpoModel model = new SmolVlmDpoModel(cfg, new FrozenWeights(file), LoraConfig.defaults(8, 8),
                        DpoConfig.DEFAULT, 1, v.getValue());
                try (SharedWeights weights = new SharedWeights(dir.resolve("weights.onnx.data"))) {
                    ModelWriter.write(model.referenceGraph(), dir.resolve("reference_model.onnx"), weights);
                }
                sizes.put(v.getKey(), Files.size(dir.resolve("weights.onnx.data")));
                logps.put(v.getKey(), run(dir.resolve("reference_model.onnx"), inputs, threads));
                out.printf("%s reference graph: weights file %,d bytes; written and run in %.1f s%n", v.getKey(),
                        sizes.get(v.getKey()), (System.nanoTime() - start) / 1e9);
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int p = 0; p < pairs.size(); p++) {
            for (int c = 0; c < 2; c++) {
                int tokens = (c == 0 ? pairs.get(p).chosen() : pairs.get(p).rejected()).length;
                double fp32 = logps.get("fp32")[c][p];
                rows.add(new Row(p, c == 0 ? "chosen" : "rejected", tokens, fp32, logps.get("bf16-weight twin")[c][p] - fp32,
                        logps.get("fp16")[c][p] - fp32, bound.forTokens(tokens)));
            }
        }
        double worst = 0;
        for (Row r : rows) {
            out.printf("pair %d %-8s (%d tokens): fp32 %.6f; bf16-weight twin Δ %+.6f, fp16 Δ %+.6f; bound %.4f "
                            + "(twin at %.2f%% of it)%n", r.pair(), r.completion(), r.tokens(), r.fp32(), r.twinDelta(),
                    r.fp16Delta(), r.bound(), 100 * Math.abs(r.twinDelta()) / r.bound());
            worst = Math.max(worst, Math.max(Math.abs(r.twinDelta()), Math.abs(r.fp16Delta())) / r.bound());
        }
        Result result = new Result(bound, rows, sizes);
        out.printf("largest difference: %.2f%% of its bound: %s%n", 100 * worst, result.withinBound() ? "within" : "EXCEEDED");
        return result;
    }

    private static float[][] run(Path model, Map<String, TensorData> inputs, int threads) throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions options = SessionSettings.options(threads, false);
             OrtSession session = env.createSession(model.toString(), options)) {
            Map<String, TensorData> fed = new HashMap<>(inputs);
            fed.keySet().retainAll(session.getInputNames());
            Map<String, OnnxTensor> tensors = OrtTensors.of(env, fed);
            try (OrtSession.Result r = session.run(tensors)) {
                return new float[][] {OrtTensors.floats(r.get(SmolVlmInputs.CHOSEN_LOGPS).orElseThrow()),
                        OrtTensors.floats(r.get(SmolVlmInputs.REJECTED_LOGPS).orElseThrow())};
            } finally {
                tensors.values().forEach(OnnxTensor::close);
            }
        }
    }

    /** Pairs of one tile each: the image's tokens, 20 question tokens, answers of 16 and 18 ordinary tokens. */
    static List<DpoCollator.Pair> syntheticPairs(ModelConfig cfg, int count) {
        SplittableRandom r = new SplittableRandom(5);
        int vocab = cfg.vocabSize();
        List<DpoCollator.Pair> pairs = new ArrayList<>();
        for (int p = 0; p < count; p++) {
            List<Long> prompt = new ArrayList<>();
            for (int i = 0; i < cfg.imageSeqLen(); i++) {
                prompt.add((long) cfg.imageTokenId());
            }
            for (int i = 0; i < 20; i++) {
                prompt.add((long) (vocab / 4 + r.nextInt(vocab / 4)));
            }
            long[] chosen = r.longs(16, vocab / 4, vocab / 2).toArray(); // ordinary tokens, clear of special ids
            long[] rejected = r.longs(18, vocab / 4, vocab / 2).toArray();
            int s = cfg.vision().imageSize();
            float[] px = new float[3 * s * s];
            for (int i = 0; i < px.length; i++) {
                px[i] = (float) (r.nextDouble() * 2 - 1);
            }
            pairs.add(new DpoCollator.Pair(prompt.stream().mapToLong(Long::longValue).toArray(), chosen, rejected,
                    new DpoCollator.Tiles(1, px, null)));
        }
        return pairs;
    }
}
