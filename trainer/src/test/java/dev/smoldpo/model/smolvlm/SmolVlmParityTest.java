package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OrtSession;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.model.smolvlm.reference.SmolVlmReference;
import dev.smoldpo.onnx.TensorData;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exported graphs against {@link SmolVlmReference}, an independent double-precision
 * implementation written from the upstream model code: completion log-probs and logit sums with
 * LoRA adapters on vision and text, and the vision position ids.
 */
class SmolVlmParityTest {
    @TempDir
    static Path root;
    static DemoFixture demo;
    static SmolVlmDpoModel model;

    @BeforeAll
    static void export() throws Exception {
        demo = new DemoFixture(root, DemoFixture.options(0.0));
        model = new SmolVlmDpoModel(demo.config, null, demo.options.lora(), demo.options.dpo(), demo.options.seed());
    }

    @Test
    void completionLogProbsMatchTheIndependentReference() throws Exception {
        Map<String, TensorData> lora = demo.loraWithRandomB(model, 9);
        Map<String, SmolVlmReference.Lora> adapters = new HashMap<>();
        for (LoraTargets.Target t : model.targets()) {
            adapters.put(t.module(), new SmolVlmReference.Lora(lora.get(t.loraA()).toFloatArray(),
                    lora.get(t.loraB()).toFloatArray(), t.r(), demo.options.lora().scale()));
        }
        SmolVlmReference reference = SmolVlmReference.load(demo.modelDir).withLora(adapters);
        List<DpoCollator.Pair> pairs = demo.pairs(23);
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(demo.config).collate(pairs, DpoLayout.SHARED_PREFIX));
        in.putAll(DemoFixture.dpoInputs(2, 0.1f, new float[] {0, 0}, new float[] {0, 0}));
        in.putAll(lora);
        Map<String, float[]> graph;
        try (OrtSession eval = DemoFixture.session(demo.files.eval())) {
            graph = DemoFixture.run(eval, in);
        }
        for (int p = 0; p < pairs.size(); p++) {
            DpoCollator.Pair pair = pairs.get(p);
            double chosen = referenceLogp(reference, pair, pair.chosen());
            double rejected = referenceLogp(reference, pair, pair.rejected());
            // TRL's logits/* numerators: Σ over the completion tokens of the vocabulary-mean logit
            double chosenLogits = referenceLogitSum(reference, pair, pair.chosen());
            double rejectedLogits = referenceLogitSum(reference, pair, pair.rejected());
            assertEquals(chosenLogits, graph.get(SmolVlmInputs.CHOSEN_LOGITS_SUM)[p], 1e-4 * Math.abs(chosenLogits) + 1e-4,
                    "chosen logits sum, pair " + p);
            assertEquals(rejectedLogits, graph.get(SmolVlmInputs.REJECTED_LOGITS_SUM)[p],
                    1e-4 * Math.abs(rejectedLogits) + 1e-4, "rejected logits sum, pair " + p);
            System.out.printf("pair %d: chosen graph %.6f reference %.6f; rejected graph %.6f reference %.6f%n",
                    p, graph.get("chosen_logps")[p], chosen, graph.get("rejected_logps")[p], rejected);
            // float32 graph against a double reference, summed over a handful of tokens
            assertEquals(chosen, graph.get("chosen_logps")[p], 1e-4 * Math.abs(chosen) + 1e-4, "chosen pair " + p);
            assertEquals(rejected, graph.get("rejected_logps")[p], 1e-4 * Math.abs(rejected) + 1e-4, "rejected pair " + p);
        }
    }

    private double referenceLogp(SmolVlmReference reference, DpoCollator.Pair pair, long[] completion) {
        long[] ids = concat(pair.prompt(), completion);
        return SmolVlmReference.completionLogProb(forward(reference, pair, ids).logits(), ids, pair.prompt().length, ids.length);
    }

    private double referenceLogitSum(SmolVlmReference reference, DpoCollator.Pair pair, long[] completion) {
        long[] ids = concat(pair.prompt(), completion);
        double[][] logits = forward(reference, pair, ids).logits();
        double sum = 0;
        for (int t = pair.prompt().length; t < ids.length; t++) {
            sum += java.util.Arrays.stream(logits[t - 1]).average().orElseThrow();
        }
        return sum;
    }

    private static long[] concat(long[] prompt, long[] completion) {
        long[] ids = new long[prompt.length + completion.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(completion, 0, ids, prompt.length, completion.length);
        return ids;
    }

    private SmolVlmReference.Result forward(SmolVlmReference reference, DpoCollator.Pair pair, long[] ids) {
        int s = demo.config.vision().imageSize();
        int per = 3 * s * s;
        float[][] tiles = new float[pair.image().count()][];
        for (int t = 0; t < tiles.length; t++) {
            tiles[t] = java.util.Arrays.copyOfRange(pair.image().pixels(), t * per, (t + 1) * per);
        }
        return reference.forward(SmolVlmReference.Input.of(ids, tiles, null));
    }

    @Test
    void visionPositionIdsAgreeWithTheReferenceOnPartialTiles() {
        int s = demo.config.vision().imageSize();
        int p = demo.config.vision().patchSize();
        int n = s / p;
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 20; trial++) {
            int h = 1 + r.nextInt(s);
            int w = 1 + r.nextInt(s);
            boolean[] pixels = new boolean[s * s];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    pixels[y * s + x] = true;
                }
            }
            boolean[] ours = PatchPositions.patchMask(pixels, s, p);
            assertArrayEquals(SmolVlmReference.patchMask(pixels, s, p), ours, h + "x" + w);
            int[] theirs = SmolVlmReference.visionPositionIds(ours, n, n, n);
            long[] mine = PatchPositions.positionIds(ours, n);
            for (int i = 0; i < mine.length; i++) {
                assertEquals(theirs[i], mine[i], h + "x" + w + " patch " + i);
            }
        }
        // SmolVLM-256M's 32 x 32 patch grid: a full tile is 0..1023, and partial grids agree too
        boolean[] full = new boolean[32 * 32];
        java.util.Arrays.fill(full, true);
        long[] ids = PatchPositions.positionIds(full, 32);
        for (int i = 0; i < ids.length; i++) {
            assertEquals(i, ids[i]);
        }
        for (int rows = 1; rows <= 32; rows++) {
            for (int cols = 1; cols <= 32; cols++) {
                boolean[] mask = new boolean[32 * 32];
                for (int y = 0; y < rows; y++) {
                    for (int x = 0; x < cols; x++) {
                        mask[y * 32 + x] = true;
                    }
                }
                int[] theirs = SmolVlmReference.visionPositionIds(mask, 32, 32, 32);
                long[] mine = PatchPositions.positionIds(mask, 32);
                for (int i = 0; i < mine.length; i++) {
                    assertEquals(theirs[i], mine[i], rows + "x" + cols + " patch " + i);
                }
            }
        }
    }
}
