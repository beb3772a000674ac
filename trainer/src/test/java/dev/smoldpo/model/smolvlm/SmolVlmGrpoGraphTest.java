package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.TensorData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GRPO graphs of the demo model: LoRA gradients (vision and text adapters, with the KL term) against
 * central finite differences of the exported eval graph; the loss with β = 0 and one update per batch
 * against a direct transcription of TRL's formula; and the shared-prefix layout (G completions after one
 * encoding of the image and prompt) against one row per completion.
 */
class SmolVlmGrpoGraphTest {
    private static final int GROUPS = 2;
    private static final int G = 3;

    @TempDir
    static Path root;
    static DemoFixture withKl;
    static DemoFixture withoutKl;
    static SafetensorsFile weights;
    static SmolVlmGrpoModel model;
    static Path gradientModel;

    static SmolVlmExporter.Options options(boolean kl) {
        return new SmolVlmExporter.Options("grpo", new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false),
                DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3, Precision.FP32, new SmolVlmExporter.Grpo(kl));
    }

    @BeforeAll
    static void setUp() throws Exception {
        withKl = new DemoFixture(Files.createDirectories(root.resolve("kl")), options(true));
        withoutKl = new DemoFixture(Files.createDirectories(root.resolve("no-kl")), options(false));
        weights = SafetensorsFile.open(withKl.modelDir.resolve("model.safetensors"));
        model = new SmolVlmGrpoModel(withKl.config, new FrozenWeights(weights), withKl.options.lora(), true, 3,
                NumericTypes.FP32);
        gradientModel = root.resolve("gradients").resolve("gradients.onnx");
        Files.createDirectories(gradientModel.getParent());
        try (SharedWeights shared = new SharedWeights(gradientModel.resolveSibling("weights.onnx.data"))) {
            ModelWriter.write(ArtifactBuilder.gradientGraph(model), gradientModel, shared);
        }
    }

    @AfterAll
    static void close() {
        weights.close();
    }

    /** Two prompts (a 1-tile and a 5-tile image) with G completions of 1 to 5 tokens each. */
    static List<GrpoCollator.Group> groups(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<GrpoCollator.Group> groups = new ArrayList<>();
        for (DpoCollator.Pair p : withKl.pairs(seed)) {
            List<long[]> completions = new ArrayList<>();
            for (int g = 0; g < G; g++) {
                long[] c = new long[1 + r.nextInt(5)];
                for (int j = 0; j < c.length; j++) {
                    c[j] = p.chosen()[r.nextInt(p.chosen().length)] + g; // demo vocabulary ids, varied per completion
                }
                completions.add(c);
            }
            groups.add(new GrpoCollator.Group(p.prompt(), p.image(), completions));
        }
        return groups;
    }

    /** The loss inputs: advantages, old and reference log-probs near {@code logps}, ε and the dapo normaliser. */
    static Map<String, TensorData> lossInputs(Map<String, TensorData> batch, float[] logps, double oldShift, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] dims = batch.get(GrpoInputs.COMPLETION_MASK).dims();
        float[] mask = batch.get(GrpoInputs.COMPLETION_MASK).toFloatArray();
        int seqs = (int) dims[0];
        float[] advantages = new float[seqs];
        float[] old = new float[mask.length];
        float[] ref = new float[mask.length];
        for (int s = 0; s < seqs; s++) {
            advantages[s] = (float) (r.nextDouble() * 2 - 1);
        }
        int[] lengths = new int[seqs];
        for (int i = 0; i < mask.length; i++) {
            old[i] = logps[i] + (float) (oldShift * (r.nextDouble() * 2 - 1));
            ref[i] = logps[i] + (float) (r.nextDouble() - 0.5);
            lengths[i / (int) dims[1]] += (int) mask[i];
        }
        Map<String, TensorData> in = new HashMap<>();
        in.put(GrpoInputs.ADVANTAGES, TensorData.floats(new long[] {seqs}, advantages));
        in.put(GrpoInputs.OLD_PER_TOKEN_LOGPS, TensorData.floats(dims, old));
        in.put(GrpoInputs.REF_PER_TOKEN_LOGPS, TensorData.floats(dims, ref));
        in.put(GrpoInputs.BETA, TensorData.floats(new long[] {1}, 0.5f));
        in.put(GrpoInputs.EPSILON_LOW, TensorData.floats(new long[] {1}, 0.2f));
        in.put(GrpoInputs.EPSILON_HIGH, TensorData.floats(new long[] {1}, 0.28f));
        in.put(GrpoInputs.LOSS_NORMALIZER, TensorData.floats(new long[] {seqs},
                GrpoLossType.DAPO.normalizers(lengths, 1, 8, java.util.Arrays.stream(lengths).sum())));
        return in;
    }

    static Map<String, TensorData> batch(List<GrpoCollator.Group> groups, float temperature) {
        Map<String, TensorData> in = new HashMap<>(new GrpoCollator(withKl.config).collate(groups));
        in.put(GrpoInputs.TEMPERATURE, TensorData.floats(new long[] {1}, temperature));
        return in;
    }

    /** Placeholder loss inputs for a run that only reads the per-token log-probs. */
    static Map<String, TensorData> logpsOnly(Map<String, TensorData> batch) {
        float[] zeros = new float[(int) batch.get(GrpoInputs.COMPLETION_MASK).elementCount()];
        return lossInputs(batch, zeros, 0, 1);
    }

    static float[] perTokenLogps(OrtSession eval, Map<String, TensorData> batch, Map<String, TensorData> lora)
            throws Exception {
        Map<String, TensorData> in = new HashMap<>(batch);
        in.putAll(logpsOnly(batch));
        in.putAll(lora);
        return DemoFixture.run(eval, in).get(GrpoInputs.PER_TOKEN_LOGPS);
    }

    @Test
    void everyLoraGradientMatchesFiniteDifferencesOfTheEvalGraph() throws Exception {
        Map<String, TensorData> lora = withKl.loraWithRandomB(model.adapters(), 5);
        Map<String, TensorData> in = batch(groups(11), 0.7f);
        try (OrtSession eval = DemoFixture.session(withKl.files.eval());
             OrtSession gradients = DemoFixture.session(gradientModel)) {
            // old log-probs within ±0.05 of the current ones: ratios stay away from the clipping edges, so
            // the loss is smooth over the perturbations; KL weight 0.5 so that term counts too
            in.putAll(lossInputs(in, perTokenLogps(eval, in, lora), 0.05, 3));
            Map<String, TensorData> fed = new HashMap<>(in);
            fed.putAll(lora);
            Map<String, float[]> grads = DemoFixture.run(gradients, fed);
            SplittableRandom pick = new SplittableRandom(17);
            double h = 1e-2;
            int checked = 0;
            double worst = 0;
            for (Map.Entry<String, TensorData> p : lora.entrySet()) {
                float[] analytic = grads.get("grad:" + p.getKey());
                for (int s = 0; s < 3; s++) {
                    int i = pick.nextInt(analytic.length);
                    double numeric = (loss(eval, in, lora, p.getKey(), i, h) - loss(eval, in, lora, p.getKey(), i, -h)) / (2 * h);
                    double err = Math.abs(numeric - analytic[i]);
                    worst = Math.max(worst, err / (Math.abs(numeric) + 1e-3));
                    assertTrue(err <= 3e-2 * Math.abs(numeric) + 2e-4,
                            p.getKey() + "[" + i + "]: analytic " + analytic[i] + " vs numeric " + numeric);
                    checked++;
                }
            }
            System.out.printf("GRPO: checked %d LoRA gradient entries over %d tensors, worst relative error %.2e%n",
                    checked, lora.size(), worst);
            assertTrue(lora.keySet().stream().anyMatch(n -> n.contains("vision_model")), "vision adapters are checked");
        }
    }

    @Test
    void recomputingTheLayersGivesTheSameGradientsBitForBit() throws Exception {
        SmolVlmGrpoModel recomputed = new SmolVlmGrpoModel(withKl.config, new FrozenWeights(weights), withKl.options.lora(),
                true, 3, NumericTypes.FP32, ActivationRecompute.LAYERS);
        Path recomputedGradients = Files.createDirectories(root.resolve("gradients-layers")).resolve("gradients.onnx");
        try (SharedWeights shared = new SharedWeights(recomputedGradients.resolveSibling("weights.onnx.data"))) {
            ModelWriter.write(ArtifactBuilder.gradientGraph(recomputed), recomputedGradients, shared);
        }
        Map<String, TensorData> lora = withKl.loraWithRandomB(model.adapters(), 5);
        Map<String, TensorData> in = batch(groups(11), 0.7f);
        try (OrtSession eval = DemoFixture.session(withKl.files.eval());
             OrtSession kept = DemoFixture.session(gradientModel);
             OrtSession again = DemoFixture.session(recomputedGradients)) {
            in.putAll(lossInputs(in, perTokenLogps(eval, in, lora), 0.05, 3));
            Map<String, TensorData> fed = new HashMap<>(in);
            fed.putAll(lora);
            Map<String, float[]> keptGrads = DemoFixture.run(kept, fed);
            Map<String, float[]> recomputedGrads = DemoFixture.run(again, fed);
            assertEquals(keptGrads.keySet(), recomputedGrads.keySet());
            for (String name : keptGrads.keySet()) {
                assertArrayEquals(keptGrads.get(name), recomputedGrads.get(name), 0f, name);
            }
        }
    }

    private static double loss(OrtSession eval, Map<String, TensorData> in, Map<String, TensorData> lora, String name,
                               int index, double h) throws Exception {
        Map<String, TensorData> fed = new HashMap<>(in);
        fed.putAll(lora);
        float[] v = lora.get(name).toFloatArray();
        v[index] += (float) h;
        fed.put(name, TensorData.floats(lora.get(name).dims(), v));
        return DemoFixture.run(eval, fed).get(GrpoInputs.LOSS)[0];
    }

    @Test
    void withBetaZeroAndOneUpdatePerBatchTheLossIsTrlsFormula() throws Exception {
        Map<String, TensorData> lora = withoutKl.loraWithRandomB(model.adapters(), 6);
        Map<String, TensorData> in = batch(groups(12), 1.0f);
        try (OrtSession eval = DemoFixture.session(withoutKl.files.eval())) {
            float[] logps = perTokenLogps(eval, in, lora);
            float[] mask = in.get(GrpoInputs.COMPLETION_MASK).toFloatArray();
            Map<String, TensorData> loss = lossInputs(in, logps, 0, 4);
            // one update per batch: old = the current log-probs (TRL's per_token_logps.detach())
            loss.put(GrpoInputs.OLD_PER_TOKEN_LOGPS, TensorData.floats(in.get(GrpoInputs.COMPLETION_MASK).dims(), logps));
            float[] advantages = loss.get(GrpoInputs.ADVANTAGES).toFloatArray();
            for (GrpoLossType type : GrpoLossType.values()) {
                int[] lengths = TrlGrpoFormula.lengths(mask, advantages.length);
                int stepTokens = java.util.Arrays.stream(lengths).sum() + 9; // another micro-batch of the step had 9 tokens
                loss.put(GrpoInputs.LOSS_NORMALIZER, TensorData.floats(new long[] {advantages.length},
                        type.normalizers(lengths, 2, 8, stepTokens)));
                Map<String, TensorData> fed = new HashMap<>(in);
                fed.putAll(loss);
                fed.putAll(lora);
                Map<String, float[]> out = DemoFixture.run(eval, fed);
                assertTrue(out.containsKey(GrpoInputs.PER_TOKEN_LOGPS) && !out.containsKey("ref_per_token_logps"));
                double expected = new TrlGrpoFormula(type.trlName(), 0.0, 0.2, 0.28, 2, 8, stepTokens)
                        .loss(logps, null, null, mask, advantages);
                assertEquals(expected, out.get(GrpoInputs.LOSS)[0], 1e-6 * Math.max(1, Math.abs(expected)), type.trlName());
                assertTrue(Math.abs(expected) > 1e-3, "a loss that tells the types apart");
            }
        }
    }

    @Test
    void sharedPrefixLogProbsEqualOneRowPerCompletion() throws Exception {
        Map<String, TensorData> lora = withKl.loraWithRandomB(model.adapters(), 7);
        List<GrpoCollator.Group> groups = groups(13);
        List<GrpoCollator.Group> single = new ArrayList<>();
        for (GrpoCollator.Group gr : groups) {
            for (long[] c : gr.completions()) {
                single.add(new GrpoCollator.Group(gr.prompt(), gr.image(), List.of(c)));
            }
        }
        try (OrtSession eval = DemoFixture.session(withKl.files.eval())) {
            Map<String, TensorData> shared = batch(groups, 0.8f);
            Map<String, TensorData> separate = batch(single, 0.8f);
            assertEquals(GROUPS, shared.get("input_ids").dims()[0], "one row per prompt");
            assertEquals(GROUPS * G, separate.get("input_ids").dims()[0]);
            assertEquals(shared.get("pixel_values").dims()[0] * G, separate.get("pixel_values").dims()[0],
                    "the shared layout encodes each image once");
            float[] a = perTokenLogps(eval, shared, lora);
            float[] b = perTokenLogps(eval, separate, lora);
            float[] mask = shared.get(GrpoInputs.COMPLETION_MASK).toFloatArray();
            assertEquals(a.length, b.length);
            for (int i = 0; i < a.length; i++) {
                if (mask[i] > 0) {
                    assertEquals(b[i], a[i], 2e-5 * Math.max(1, Math.abs(b[i])), "token " + i);
                    assertTrue(a[i] < 0, "a log-prob");
                }
            }
        }
    }

    @Test
    void theExportRecordsTheObjectiveAndItsInputs() throws Exception {
        ArtifactFiles f = withoutKl.files;
        String manifest = Files.readString(f.manifest());
        assertTrue(manifest.contains("\"objective\" : \"grpo\"") || manifest.contains("\"objective\":\"grpo\""), manifest);
        assertTrue(manifest.contains(GrpoInputs.OLD_PER_TOKEN_LOGPS));
        assertTrue(!manifest.contains(GrpoInputs.REF_PER_TOKEN_LOGPS), "no reference input without --kl");
        assertTrue(Files.readString(withKl.files.manifest()).contains(GrpoInputs.REF_PER_TOKEN_LOGPS));
    }
}
