package dev.smoldpo.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.DecodedImage;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Generation on the demo model's deployment folder. */
class GeneratorDemoTest {
    static DemoDeployment demo;
    static Generator generator;

    @BeforeAll
    static void open() throws Exception {
        demo = DemoDeployment.get();
        generator = Generator.open(demo.deploy, 2, false);
    }

    @AfterAll
    static void close() throws Exception {
        if (generator != null) generator.close();
    }

    private static DecodedImage image(int w, int h, long seed) {
        return DecodedImage.decode(DemoDeployment.png(w, h, seed));
    }

    @Test
    void kvCacheGivesTheSameTokensAsRecomputingEverything() throws Exception {
        // 48x40 → longest edge 64 → 2x2 tiles + global: 5 tiles of image tokens
        try (Generator.Prompt prompt = generator.encode("What colour is the shape?", List.of(image(48, 40, 1)))) {
            assertEquals(5, prompt.tiles());
            List<float[]> cachedLogits = new java.util.ArrayList<>();
            List<float[]> fullLogits = new java.util.ArrayList<>();
            Generator.Result cached = generator.generate(prompt, new Generator.Options(12, Sampler.Settings.greedyDecoding(), true),
                    null, cachedLogits::add);
            Generator.Result full = generator.generateWithoutCache(prompt, 12, true, fullLogits::add);
            for (int step = 0; step < 12; step++) {
                float[] a = cachedLogits.get(step), b = fullLogits.get(step);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(b[i], a[i], 1e-4, "step " + step + " logit " + i);
                }
            }
            assertEquals(12, cached.tokens().length);
            assertArrayEquals(full.tokens(), cached.tokens(), "cached " + Arrays.toString(cached.tokens()) + " vs full "
                    + Arrays.toString(full.tokens()));
            assertEquals(Generator.StopReason.MAX_NEW_TOKENS, cached.stop());
            long distinct = Arrays.stream(cached.tokens()).distinct().count();
            System.out.println("demo greedy tokens " + Arrays.toString(cached.tokens()) + " text '" + cached.text() + "'");
            assertTrue(distinct >= 1);
        }
    }

    @Test
    void twoImagesAndTextOnlyPromptsAlsoMatchWithoutCache() throws Exception {
        try (Generator.Prompt prompt = generator.encode("Which is brighter?",
                List.of(image(48, 40, 2), image(64, 16, 3)))) {
            assertEquals(8, prompt.tiles(), "2x2+global and 1x2+global");
            Generator.Result cached = generator.generate(prompt, new Generator.Options(6, Sampler.Settings.greedyDecoding(), true), null);
            assertArrayEquals(generator.generateWithoutCache(prompt, 6, true).tokens(), cached.tokens());
        }
        try (Generator.Prompt prompt = generator.encode("Say something.", List.of())) {
            assertEquals(0, prompt.tiles());
            Generator.Result cached = generator.generate(prompt, new Generator.Options(6, Sampler.Settings.greedyDecoding(), true), null);
            assertArrayEquals(generator.generateWithoutCache(prompt, 6, true).tokens(), cached.tokens());
        }
    }

    @Test
    void choicesAfterAnAnswerPrefixRankExactlyAsTheWholeAnswers() throws Exception {
        List<String> colours = List.of(" red.", " green.", " blue.", " yellow.", " purple.", " orange.");
        List<String> whole = colours.stream().map(c -> "It is" + c).toList();
        for (long seed = 10; seed < 14; seed++) {
            try (Generator.Prompt prompt = generator.encode("What colour is the shape?", List.of(image(40, 40, seed)))) {
                double[] full = generator.scoreAnswers(prompt, whole);
                double[] after = generator.scoreAnswers(prompt, colours, "It is");
                double offset = full[0] - after[0];
                assertTrue(offset < -1e-3, "the prefix's own tokens are left out of the sums: " + offset);
                for (int c = 0; c < colours.size(); c++) {
                    assertEquals(offset, full[c] - after[c], 1e-4, "choice " + colours.get(c));
                }
                assertEquals(argmax(full), argmax(after));
            }
        }
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            best = v[i] > v[best] ? i : best;
        }
        return best;
    }

    @Test
    void twoImagePromptPutsBothImagesBeforeTheText() {
        String p = generator.promptText("Q?", 2);
        assertTrue(p.contains("<image><image>Q?"), p);
        assertEquals(generator.promptText("Q?", 1).replace("<image>", "<image><image>"), p);
    }

    @Test
    void streamedTextIsTheResultTextAndEosStops() throws Exception {
        StringBuilder streamed = new StringBuilder();
        Generator.Result r = generator.generate("What colour is the shape?", List.of(image(64, 64, 4)),
                Generator.Options.greedy(40), streamed::append);
        assertEquals(r.text(), streamed.toString());
        for (long t : r.tokens()) assertFalse(generator.eosTokenIds().contains(t), "eos is not part of the tokens");
        assertTrue(r.stop() == Generator.StopReason.EOS || r.tokens().length == 40);
        System.out.println("demo answer: '" + r.text() + "' (" + r.stop() + ")");
    }

    @Test
    void sampledGenerationIsReproducibleBySeed() throws Exception {
        List<DecodedImage> img = List.of(image(30, 30, 5));
        Generator.Options a = new Generator.Options(10, Sampler.Settings.sampling(1.5, 0, 1, 77), true);
        long[] first = generator.generate("Describe.", img, a, null).tokens();
        long[] second = generator.generate("Describe.", img, a, null).tokens();
        assertArrayEquals(first, second);
        boolean differs = false;
        for (long seed = 78; seed < 84 && !differs; seed++) {
            Generator.Options b = new Generator.Options(10, Sampler.Settings.sampling(1.5, 0, 1, seed), true);
            differs = !Arrays.equals(first, generator.generate("Describe.", img, b, null).tokens());
        }
        assertTrue(differs, "other seeds give other samples");
        Generator.Options topK1 = new Generator.Options(10, Sampler.Settings.sampling(1.5, 1, 1, 1), true);
        assertArrayEquals(generator.generate("Describe.", img, Generator.Options.greedy(10).withIgnoreEos(), null).tokens(),
                generator.generate("Describe.", img, topK1, null).tokens());
    }

    @Test
    void tooLongPromptIsRefused() {
        String question = "red green blue ".repeat(generator.maxPositions());
        InferenceException e = assertThrows(InferenceException.class,
                () -> generator.encode(question, List.of()).close());
        assertTrue(e.getMessage().contains("max_position_embeddings " + generator.maxPositions()), e.getMessage());
    }
}
