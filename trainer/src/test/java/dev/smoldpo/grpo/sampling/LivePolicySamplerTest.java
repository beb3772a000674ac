package dev.smoldpo.grpo.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The live-policy sampler on the demo model (random weights, adapters in the vision tower and the
 * decoder): its log-probs are the training graphs' for the same tokens and adapters, a change of
 * adapters changes the samples, and a seed fixes a group.
 */
class LivePolicySamplerTest {
    /**
     * Σ of a completion's per-token log-probs, sampler vs graph: both are float32 evaluations of the
     * same function (same weights, same ops) that differ only in the order of the additions (the KV
     * cache splits the attention into prefill and one-token steps; the group decodes G rows per run).
     * Float32 carries ~7 digits; over the demo's few layers and ≤ 8 tokens the measured gap is ~1e-6,
     * so 1e-4 per unit of |Σ| catches any real difference (a wrong adapter, position or mask moves it by 1e-2 or more).
     */
    private static final double TOLERANCE = 1e-4;

    @TempDir
    static Path root;
    static SamplingFixture fixture;
    static LivePolicySampler sampler;

    @BeforeAll
    static void open() throws Exception {
        fixture = new SamplingFixture(root);
        sampler = LivePolicySampler.open(fixture.artifacts.dir(), 1, false);
    }

    @AfterAll
    static void close() throws Exception {
        sampler.close();
    }

    private static SamplingSettings settings(int g, int maxLength) {
        return new SamplingSettings(1.0, 1.0, 0, maxLength, g, 42);
    }

    @Test
    void withBZeroTheLogProbsAreThoseOfTheFrozenReferenceGraph() throws Exception {
        sampler.updateAdaptersFromCheckpoint(fixture.artifacts.checkpoint());
        SampledGroup group = sampler.sample(fixture.prompt, settings(3, 8), 11);
        assertEquals(3, group.completionIds().size());
        try (OrtSession reference = OrtRuntime.environment().createSession(
                fixture.artifacts.dir().resolve("reference_model.onnx").toString(), new OrtSession.SessionOptions())) {
            for (int i = 0; i < 3; i++) {
                Map<String, TensorData> in = collate(group.completionIds().get(i));
                Map<String, OnnxTensor> tensors = OrtTensors.of(OrtRuntime.environment(), in);
                try (OrtSession.Result r = reference.run(tensors)) {
                    float graph = OrtTensors.floats(r.get(SmolVlmInputs.CHOSEN_LOGPS).orElseThrow())[0];
                    assertClose(graph, sum(group.samplingLogps().get(i)), "completion " + i);
                } finally {
                    tensors.values().forEach(OnnxTensor::close);
                }
            }
        }
    }

    @Test
    void withTrainedAdaptersTheLogProbsAreThoseOfTheTrainingEvalGraph() throws Exception {
        Map<String, float[]> trained = fixture.randomB(5, 0.3);
        Path checkpoint = fixture.checkpoint(trained, root.resolve("trained.ckpt"));
        sampler.updateAdapters(trained);
        SampledGroup group = sampler.sample(fixture.prompt, settings(2, 8), 12);
        try (TrainingSession session = TrainingSession.open(fixture.artifacts.training(), fixture.artifacts.eval(),
                fixture.artifacts.optimizer(), checkpoint, 1, false)) {
            for (int i = 0; i < 2; i++) {
                Map<String, TensorData> in = new HashMap<>(collate(group.completionIds().get(i)));
                in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, 0.1f));
                in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {1}, 1f));
                in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {1}, 0f));
                in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {1}, 0f));
                Map<String, OnnxTensor> tensors = OrtTensors.of(session.env(), in);
                try {
                    float graph = session.evalStep(tensors).get(SmolVlmInputs.CHOSEN_LOGPS)[0];
                    assertClose(graph, sum(group.samplingLogps().get(i)), "completion " + i);
                } finally {
                    tensors.values().forEach(OnnxTensor::close);
                }
            }
        }
    }

    @Test
    void changingTheAdaptersChangesTheSamples() throws Exception {
        sampler.updateAdaptersFromCheckpoint(fixture.artifacts.checkpoint());
        SampledGroup base = sampler.sample(fixture.prompt, settings(4, 8), 3);
        sampler.updateAdapters(fixture.randomB(9, 0.5));
        SampledGroup adapted = sampler.sample(fixture.prompt, settings(4, 8), 3);
        sampler.updateAdaptersFromCheckpoint(fixture.artifacts.checkpoint());
        SampledGroup baseAgain = sampler.sample(fixture.prompt, settings(4, 8), 3);
        // same seeds: the only change is the adapters, and going back restores the samples
        assertGroupsEqual(base, baseAgain);
        boolean tokensDiffer = false;
        for (int i = 0; i < 4; i++) {
            tokensDiffer |= !java.util.Arrays.equals(base.completionIds().get(i), adapted.completionIds().get(i));
        }
        assertTrue(tokensDiffer, "new adapters, same seeds: some completion changes");
        assertNotEquals(sum(base.samplingLogps().getFirst()), sum(adapted.samplingLogps().getFirst()));
    }

    @Test
    void theSameSeedGivesTheSameGroupAndAnotherSeedAnother() {
        sampler.updateAdaptersFromCheckpoint(fixture.artifacts.checkpoint());
        SampledGroup a = sampler.sample(fixture.prompt, settings(4, 10), 7);
        SampledGroup b = sampler.sample(fixture.prompt, settings(4, 10), 7);
        SampledGroup other = sampler.sample(fixture.prompt, settings(4, 10), 8);
        SampledGroup otherRunSeed = sampler.sample(fixture.prompt, new SamplingSettings(1.0, 1.0, 0, 10, 4, 43), 7);
        assertGroupsEqual(a, b);
        assertFalse(sameTokens(a, other), "another prompt seed draws other completions");
        assertFalse(sameTokens(a, otherRunSeed), "another run seed draws other completions");
        // the rows of a group differ from one another: each has its own random stream
        assertFalse(java.util.Arrays.equals(a.completionIds().get(0), a.completionIds().get(1)));
    }

    @Test
    void completionsEndAtTheirFirstEndOfSequenceOrAtTheCapAndHoldNoImageToken() {
        sampler.updateAdapters(fixture.randomB(2, 0.5));
        SampledGroup group = sampler.sample(fixture.prompt, settings(8, 5), 1);
        // the random demo model puts real mass on <image> (ids 5): a long unmasked group would draw it
        SampledGroup longer = sampler.sample(fixture.prompt, settings(8, 40), 2);
        for (int[] ids : longer.completionIds()) {
            for (int id : ids) {
                assertNotEquals(DemoSpec.IMAGE_TOKEN_ID, id, "the image token is never sampled");
            }
        }
        for (int i = 0; i < 8; i++) {
            int[] ids = group.completionIds().get(i);
            assertTrue(ids.length >= 1 && ids.length <= 5, "length " + ids.length);
            for (int k = 0; k < ids.length - 1; k++) {
                assertNotEquals(DemoSpec.END_OF_UTTERANCE_ID, ids[k], "no token after an end of sequence");
            }
            if (ids.length < 5) {
                assertEquals(DemoSpec.END_OF_UTTERANCE_ID, ids[ids.length - 1], "a short completion ends with its EOS");
            }
            for (float lp : group.samplingLogps().get(i)) {
                assertTrue(lp <= 0 && Float.isFinite(lp), "log-prob " + lp);
            }
        }
    }

    @Test
    void topKOneSamplesTheSameGreedyCompletionInEveryRow() {
        sampler.updateAdapters(fixture.randomB(4, 0.5));
        SampledGroup greedy = sampler.sample(fixture.prompt, new SamplingSettings(1.0, 1.0, 1, 6, 4, 1), 1);
        SampledGroup tinyTopP = sampler.sample(fixture.prompt, new SamplingSettings(0.7, 1e-6, 0, 6, 4, 99), 5);
        for (int i = 1; i < 4; i++) {
            assertArrayEquals(greedy.completionIds().getFirst(), greedy.completionIds().get(i));
        }
        // top_p below every token's probability keeps only the most likely one: greedy again, whatever the seed
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(greedy.completionIds().getFirst(), tinyTopP.completionIds().get(i));
        }
    }

    @Test
    void adaptersThatDoNotFitAreRefusedByName() {
        Map<String, float[]> missing = new HashMap<>(fixture.randomB(1, 0.1));
        String name = sampler.adapterNames().getFirst();
        missing.remove(name);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sampler.updateAdapters(missing));
        assertTrue(e.getMessage().contains(name), e.getMessage());
        Map<String, float[]> wrongSize = new HashMap<>(fixture.randomB(1, 0.1));
        wrongSize.put(name, new float[3]);
        e = assertThrows(IllegalArgumentException.class, () -> sampler.updateAdapters(wrongSize));
        assertTrue(e.getMessage().contains(name + " has 3 values"), e.getMessage());
    }

    private static Map<String, TensorData> collate(int[] completion) {
        long[] ids = java.util.Arrays.stream(completion).asLongStream().toArray();
        DpoCollator.Pair pair = new DpoCollator.Pair(fixture.prompt.inputIds(), ids, ids, fixture.prompt.image());
        return new DpoCollator(fixture.config).collate(List.of(pair), DpoLayout.SHARED_PREFIX);
    }

    private static void assertClose(double expected, double actual, String what) {
        System.out.printf("%s: graph %.6f sampler %.6f (diff %.2g)%n", what, expected, actual, Math.abs(expected - actual));
        assertTrue(Math.abs(expected - actual) <= TOLERANCE * Math.max(1, Math.abs(expected)),
                what + ": graph " + expected + " vs sampler " + actual);
    }

    private static double sum(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s;
    }

    private static boolean sameTokens(SampledGroup a, SampledGroup b) {
        for (int i = 0; i < a.completionIds().size(); i++) {
            if (!java.util.Arrays.equals(a.completionIds().get(i), b.completionIds().get(i))) {
                return false;
            }
        }
        return true;
    }

    private static void assertGroupsEqual(SampledGroup a, SampledGroup b) {
        assertEquals(a.completionTexts(), b.completionTexts());
        for (int i = 0; i < a.completionIds().size(); i++) {
            assertArrayEquals(a.completionIds().get(i), b.completionIds().get(i));
            assertArrayEquals(a.samplingLogps().get(i), b.samplingLogps().get(i));
        }
    }
}
