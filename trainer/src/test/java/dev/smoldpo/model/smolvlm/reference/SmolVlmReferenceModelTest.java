package dev.smoldpo.model.smolvlm.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.model.demo.DemoCheckpoint;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.smolvlm.reference.SmolVlmReference.Input;
import dev.smoldpo.model.smolvlm.reference.SmolVlmReference.Lora;
import dev.smoldpo.model.smolvlm.reference.SmolVlmReference.Result;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reference on the demo checkpoint: end to end, causality, padding, LoRA, GQA, masks. */
class SmolVlmReferenceModelTest {
    @TempDir
    static Path tmp;

    static Path demo;
    static ModelConfig config;
    static Map<String, float[]> weights = new HashMap<>();
    static Map<String, long[]> shapes = new HashMap<>();
    static SmolVlmReference model;

    static final int S = DemoSpec.TILE_SIZE;
    static final int L = DemoSpec.IMAGE_SEQ_LEN;
    static final int NEWLINE = 100; // any regular token stands in for "\n"

    @BeforeAll
    static void setUp() throws IOException {
        demo = tmp.resolve("demo");
        DemoCheckpoint.write(demo, 11);
        config = ModelConfig.load(demo);
        try (SafetensorsFile sf = SafetensorsFile.open(demo.resolve("model.safetensors"))) {
            SmolVlmReference.readWeights(config, sf, weights, shapes);
        }
        model = new SmolVlmReference(config, weights, shapes, Map.of());
    }

    // ------------------------------------------------------------------ inputs

    static float[] randomTile(long seed) {
        Random r = new Random(seed);
        float[] t = new float[3 * S * S];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextFloat() * 2 - 1;
        }
        return t;
    }

    /** Prompt as Idefics3Processor expands one image: single tile (rows = cols = 0) or rows x cols + global. */
    static long[] prompt(int rows, int cols, long... after) {
        List<Long> ids = new ArrayList<>(List.of((long) DemoSpec.IM_START_ID, 50L, 51L));
        if (rows == 0) {
            ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
            ids.add((long) DemoSpec.GLOBAL_IMAGE_ID);
            for (int i = 0; i < L; i++) {
                ids.add((long) DemoSpec.IMAGE_TOKEN_ID);
            }
            ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
        } else {
            for (int r = 1; r <= rows; r++) {
                for (int c = 1; c <= cols; c++) {
                    ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
                    ids.add((long) (DemoSpec.FIRST_ROW_COL_ID + (r - 1) * 6 + (c - 1)));
                    for (int i = 0; i < L; i++) {
                        ids.add((long) DemoSpec.IMAGE_TOKEN_ID);
                    }
                }
                ids.add((long) NEWLINE);
            }
            ids.add((long) NEWLINE);
            ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
            ids.add((long) DemoSpec.GLOBAL_IMAGE_ID);
            for (int i = 0; i < L; i++) {
                ids.add((long) DemoSpec.IMAGE_TOKEN_ID);
            }
            ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
        }
        for (long a : after) {
            ids.add(a);
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    static void assertFinite(double[][] x) {
        for (double[] r : x) {
            for (double v : r) {
                assertTrue(Double.isFinite(v));
            }
        }
    }

    static void assertRowsEqual(double[][] a, double[][] b, int from, int to, double tol) {
        for (int i = from; i < to; i++) {
            assertArrayEquals(a[i], b[i], tol, "row " + i);
        }
    }

    static double maxAbsDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    // ------------------------------------------------------------------ end to end

    @Test
    void oneTileEndToEnd() throws IOException {
        long[] ids = prompt(0, 0, 60, 61, DemoSpec.END_OF_UTTERANCE_ID);
        Result r = SmolVlmReference.load(demo).forward(Input.of(ids, new float[][] {randomTile(1)}, null));
        assertEquals(ids.length, r.logits().length);
        assertEquals(DemoSpec.VOCAB_SIZE, r.logits()[0].length);
        assertFinite(r.logits());
        assertArrayEquals(new int[] {0}, r.keptTiles());
        int patches = (S / DemoSpec.PATCH_SIZE) * (S / DemoSpec.PATCH_SIZE);
        assertEquals(patches, r.visionOutput().get(0).length);
        assertEquals(DemoSpec.VISION_HIDDEN, r.visionOutput().get(0)[0].length);
        assertEquals(L, r.connectorOutput().get(0).length);
        assertEquals(DemoSpec.TEXT_HIDDEN, r.connectorOutput().get(0)[0].length);
        for (int i = 0; i < patches; i++) {
            assertEquals(i, r.visionPositionIds().get(0)[i]);
        }

        // merge: image rows are the connector rows in order, the others are embed_tokens rows
        float[] table = weights.get("model.text_model.embed_tokens.weight");
        int k = 0;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == DemoSpec.IMAGE_TOKEN_ID) {
                assertArrayEquals(r.connectorOutput().get(0)[k++], r.inputEmbeds()[i], 0.0);
            } else {
                for (int d = 0; d < DemoSpec.TEXT_HIDDEN; d++) {
                    assertEquals(table[(int) ids[i] * DemoSpec.TEXT_HIDDEN + d], r.inputEmbeds()[i][d], 0.0);
                }
            }
        }
        assertEquals(L, k);

        // outputs are far from uniform: the demo weights are large enough
        double[] last = r.logits()[ids.length - 1];
        double mean = Arrays.stream(last).average().orElseThrow();
        double var = Arrays.stream(last).map(v -> (v - mean) * (v - mean)).average().orElseThrow();
        assertTrue(Math.sqrt(var) > 0.3, "logit std " + Math.sqrt(var));
        double lp = SmolVlmReference.completionLogProb(r.logits(), ids, ids.length - 3, ids.length);
        assertTrue(Double.isFinite(lp) && lp < 0);
    }

    @Test
    void twoByTwoPlusGlobalWithPaddingTileAndPartialMask() {
        long[] ids = prompt(2, 2, 60, 61);
        assertEquals(5 * L, Arrays.stream(ids).filter(x -> x == DemoSpec.IMAGE_TOKEN_ID).count());
        float[][] tiles = new float[6][];
        for (int i = 0; i < 5; i++) {
            tiles[i] = randomTile(10 + i);
        }
        tiles[5] = new float[3 * S * S]; // batch padding: all zero, dropped
        // tile 1 (top right) has only its left 12 pixel columns real (patches: columns 0 and 1)
        boolean[][] masks = new boolean[6][];
        masks[1] = new boolean[S * S];
        for (int y = 0; y < S; y++) {
            for (int x = 0; x < 12; x++) {
                masks[1][y * S + x] = true;
            }
        }
        for (int y = 0; y < S; y++) {
            for (int x = 12; x < S; x++) {
                for (int c = 0; c < 3; c++) {
                    tiles[1][(c * S + y) * S + x] = 0; // processor pads with zeros
                }
            }
        }
        Result r = model.forward(Input.of(ids, tiles, masks));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, r.keptTiles());
        assertEquals(5, r.connectorOutput().size());
        assertFinite(r.logits());
        // tile 1: a 4 x 2 patch region -> nb_h = 4 (coords 0, .25, .5, .75 -> 0..3), nb_w = 2 (0, .5 -> 0, 2)
        assertArrayEquals(new boolean[] {true, true, false, false, true, true, false, false, true, true, false, false,
            true, true, false, false}, r.patchMasks().get(1));
        assertArrayEquals(new int[] {0, 2, 0, 0, 4, 6, 0, 0, 8, 10, 0, 0, 12, 14, 0, 0}, r.visionPositionIds().get(1));

        // a padding tile in the middle of the list is dropped too, order of the rest kept
        float[][] shuffled = {tiles[0], new float[3 * S * S], tiles[1], tiles[2], tiles[3], tiles[4]};
        boolean[][] shuffledMasks = {null, null, masks[1], null, null, null};
        Result r2 = model.forward(Input.of(ids, shuffled, shuffledMasks));
        assertArrayEquals(new int[] {0, 2, 3, 4, 5}, r2.keptTiles());
        assertRowsEqual(r.logits(), r2.logits(), 0, ids.length, 0.0);

        // the flat [n, 3, S, S] / [n, S, S] form of the same input gives the same result
        float[] flat = new float[6 * 3 * S * S];
        long[] flatMask = new long[6 * S * S];
        for (int i = 0; i < 6; i++) {
            System.arraycopy(tiles[i], 0, flat, i * 3 * S * S, 3 * S * S);
            for (int j = 0; j < S * S; j++) {
                flatMask[i * S * S + j] = (i == 5 || (masks[i] != null && !masks[i][j])) ? 0 : 1;
            }
        }
        Result r3 = model.forward(Input.ofFlat(ids, flat, flatMask, 6));
        assertRowsEqual(r.logits(), r3.logits(), 0, ids.length, 0.0);

        // wrong number of image tokens
        assertThrows(IllegalArgumentException.class,
                () -> model.forward(Input.of(ids, new float[][] {tiles[0]}, null)));
    }

    // ------------------------------------------------------------------ causality and masks

    @Test
    void laterTokensDoNotChangeEarlierLogits() {
        long[] a = prompt(0, 0, 60, 61, 62, 63);
        long[] b = a.clone();
        b[b.length - 2] = 200;
        b[b.length - 1] = 300;
        float[][] tiles = {randomTile(3)};
        Result ra = model.forward(Input.of(a, tiles, null));
        Result rb = model.forward(Input.of(b, tiles, null));
        int changed = a.length - 2;
        assertRowsEqual(ra.logits(), rb.logits(), 0, changed, 0.0);
        assertTrue(maxAbsDiff(ra.logits()[changed], rb.logits()[changed]) > 1e-3);

        // a different image changes nothing before the first image token, and everything after
        Result rc = model.forward(Input.of(a, new float[][] {randomTile(4)}, null));
        int firstImage = 0;
        while (a[firstImage] != DemoSpec.IMAGE_TOKEN_ID) {
            firstImage++;
        }
        assertRowsEqual(ra.logits(), rc.logits(), 0, firstImage, 0.0);
        assertTrue(maxAbsDiff(ra.logits()[a.length - 1], rc.logits()[a.length - 1]) > 1e-3);
    }

    @Test
    void leftPaddingWithMaskAndPositionsMatchesUnpadded() {
        long[] ids = {DemoSpec.IM_START_ID, 50, 51, 52, 53, 54};
        int pad = 3;
        long[] padded = new long[ids.length + pad];
        long[] mask = new long[padded.length];
        long[] pos = new long[padded.length];
        for (int i = 0; i < pad; i++) {
            padded[i] = DemoSpec.IM_END_ID;
            pos[i] = 1; // as prepare_inputs_for_generation fills them; irrelevant
        }
        for (int i = 0; i < ids.length; i++) {
            padded[pad + i] = ids[i];
            mask[pad + i] = 1;
            pos[pad + i] = i;
        }
        Result plain = model.forward(Input.text(ids));
        Result left = model.forward(Input.text(padded).withAttentionMask(mask).withPositionIds(pos));
        for (int i = 0; i < ids.length; i++) {
            assertArrayEquals(plain.logits()[i], left.logits()[pad + i], 1e-12);
        }
        // right padding with the default positions
        long[] right = Arrays.copyOf(ids, ids.length + 2);
        long[] rmask = new long[right.length];
        Arrays.fill(rmask, 0, ids.length, 1);
        Result rr = model.forward(Input.text(right).withAttentionMask(rmask));
        assertRowsEqual(plain.logits(), rr.logits(), 0, ids.length, 1e-12);
        // without the mask the left-padded row is different (the mask matters)
        Result unmasked = model.forward(Input.text(padded).withPositionIds(pos));
        assertTrue(maxAbsDiff(plain.logits()[ids.length - 1], unmasked.logits()[padded.length - 1]) > 1e-6);
    }

    /** Shared prefix: [prompt | chosen | rejected] with rejected's positions restarting after the prompt. */
    @Test
    void sharedPrefixMaskEqualsTwoRows() {
        long[] prompt = prompt(0, 0);
        long[] chosen = {70, 71, 72, DemoSpec.END_OF_UTTERANCE_ID};
        long[] rejected = {80, 81, DemoSpec.END_OF_UTTERANCE_ID};
        int p = prompt.length;
        int c = chosen.length;
        int t = p + c + rejected.length;
        long[] ids = new long[t];
        long[] pos = new long[t];
        System.arraycopy(prompt, 0, ids, 0, p);
        System.arraycopy(chosen, 0, ids, p, c);
        System.arraycopy(rejected, 0, ids, p + c, rejected.length);
        boolean[][] allowed = new boolean[t][t];
        for (int i = 0; i < t; i++) {
            pos[i] = i < p + c ? i : i - c;
            for (int j = 0; j <= i; j++) {
                boolean iRej = i >= p + c;
                boolean jChosen = j >= p && j < p + c;
                allowed[i][j] = !(iRej && jChosen);
            }
        }
        float[][] tiles = {randomTile(5)};
        Result shared = model.forward(Input.of(ids, tiles, null).withPositionIds(pos).withAllowed(allowed));
        Result rowChosen = model.forward(Input.of(concat(prompt, chosen), tiles, null));
        Result rowRejected = model.forward(Input.of(concat(prompt, rejected), tiles, null));
        assertRowsEqual(rowChosen.logits(), shared.logits(), 0, p + c, 1e-12);
        for (int i = 0; i < rejected.length; i++) {
            assertArrayEquals(rowRejected.logits()[p + i], shared.logits()[p + c + i], 1e-12);
        }
        // log-prob of the completion: tokens p .. end of each row
        double lpChosen = SmolVlmReference.completionLogProb(rowChosen.logits(), concat(prompt, chosen), p, p + c);
        assertTrue(lpChosen < 0);
    }

    static long[] concat(long[] a, long[] b) {
        long[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void invalidPatchesDoNotReachValidOnes() {
        float[] tile = randomTile(7);
        boolean[] mask = new boolean[S * S];
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < S; x++) {
                mask[y * S + x] = true; // top two patch rows valid
            }
        }
        SmolVlmReference.VisionTile a = model.encodeTile(tile, mask);
        float[] changed = tile.clone();
        for (int i = 0; i < 3; i++) {
            for (int y = 16; y < S; y++) {
                for (int x = 0; x < S; x++) {
                    changed[(i * S + y) * S + x] += 0.5f;
                }
            }
        }
        SmolVlmReference.VisionTile b = model.encodeTile(changed, mask);
        int grid = S / DemoSpec.PATCH_SIZE;
        for (int pch = 0; pch < 2 * grid; pch++) {
            assertArrayEquals(a.output()[pch], b.output()[pch], 1e-12);
        }
        assertTrue(maxAbsDiff(a.output()[2 * grid], b.output()[2 * grid]) > 1e-6);
        // an all-true mask is the same as no mask
        boolean[] all = new boolean[S * S];
        Arrays.fill(all, true);
        SmolVlmReference.VisionTile c = model.encodeTile(tile, all);
        SmolVlmReference.VisionTile d = model.encodeTile(tile, null);
        assertRowsEqual(c.output(), d.output(), 0, c.output().length, 0.0);
    }

    // ------------------------------------------------------------------ LoRA

    static final String[] TEXT_TARGETS = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
        "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};

    static Map<String, Lora> adapters(int rank, double scale, boolean zeroB, long seed) {
        Random rnd = new Random(seed);
        Map<String, Lora> m = new HashMap<>();
        for (int l = 0; l < DemoSpec.TEXT_LAYERS; l++) {
            for (String t : TEXT_TARGETS) {
                String name = "model.text_model.layers." + l + "." + t;
                long[] shape = shapes.get(name + ".weight");
                float[] a = new float[rank * (int) shape[1]];
                float[] b = new float[(int) shape[0] * rank];
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) rnd.nextGaussian() * 0.3f;
                }
                if (!zeroB) {
                    for (int i = 0; i < b.length; i++) {
                        b[i] = (float) rnd.nextGaussian() * 0.3f;
                    }
                }
                m.put(name, new Lora(a, b, rank, scale));
            }
        }
        return m;
    }

    @Test
    void loraWithZeroBEqualsBase() {
        long[] ids = prompt(0, 0, 60, 61, 62);
        float[][] tiles = {randomTile(8)};
        Result base = model.forward(Input.of(ids, tiles, null));
        Result zero = model.withLora(adapters(4, 2.0, true, 1)).forward(Input.of(ids, tiles, null));
        assertRowsEqual(base.logits(), zero.logits(), 0, ids.length, 0.0);
    }

    @Test
    void loraEqualsMergedWeights() {
        long[] ids = prompt(0, 0, 60, 61, 62);
        float[][] tiles = {randomTile(9)};
        int rank = 3;
        double scale = 16.0 / rank * 0.1;
        Map<String, Lora> ad = adapters(rank, scale, false, 2);
        // include adapters on a vision linear and the connector: any linear module works
        ad.put("model.vision_model.encoder.layers.0.self_attn.q_proj", vis(rank, scale, 3,
                "model.vision_model.encoder.layers.0.self_attn.q_proj"));
        ad.put("model.connector.modality_projection.proj", vis(rank, scale, 4, "model.connector.modality_projection.proj"));
        Result withLora = model.withLora(ad).forward(Input.of(ids, tiles, null));

        Map<String, float[]> merged = new HashMap<>(weights);
        for (Map.Entry<String, Lora> e : ad.entrySet()) {
            long[] shape = shapes.get(e.getKey() + ".weight");
            int out = (int) shape[0];
            int in = (int) shape[1];
            float[] w = weights.get(e.getKey() + ".weight").clone();
            Lora l = e.getValue();
            // merged in double, stored as float: compare with a tolerance for that rounding
            double[] md = new double[w.length];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    double s = 0;
                    for (int k = 0; k < rank; k++) {
                        s += (double) l.b()[o * rank + k] * l.a()[k * in + i];
                    }
                    md[o * in + i] = w[o * in + i] + l.scale() * s;
                }
            }
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) md[i];
            }
            merged.put(e.getKey() + ".weight", w);
        }
        Result m = new SmolVlmReference(config, merged, shapes, Map.of()).forward(Input.of(ids, tiles, null));
        Result base = model.forward(Input.of(ids, tiles, null));
        double diff = 0;
        double effect = 0;
        for (int i = 0; i < ids.length; i++) {
            diff = Math.max(diff, maxAbsDiff(withLora.logits()[i], m.logits()[i]));
            effect = Math.max(effect, maxAbsDiff(withLora.logits()[i], base.logits()[i]));
        }
        assertTrue(diff < 1e-4, "LoRA vs merged " + diff);
        assertTrue(effect > 1e-2, "LoRA has an effect " + effect);
    }

    static Lora vis(int rank, double scale, long seed, String module) {
        long[] shape = shapes.get(module + ".weight");
        Random rnd = new Random(seed);
        float[] a = new float[rank * (int) shape[1]];
        float[] b = new float[(int) shape[0] * rank];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian() * 0.3f;
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rnd.nextGaussian() * 0.3f;
        }
        return new Lora(a, b, rank, scale);
    }

    @Test
    void loraShapesAreChecked() {
        Map<String, Lora> bad = Map.of("model.text_model.layers.0.self_attn.q_proj",
                new Lora(new float[2 * 31], new float[32 * 2], 2, 1.0));
        assertThrows(IllegalArgumentException.class, () -> model.withLora(bad));
        Map<String, Lora> unknown = Map.of("model.text_model.layers.0.self_attn.nope",
                new Lora(new float[2], new float[2], 1, 1.0));
        assertThrows(IllegalArgumentException.class, () -> model.withLora(unknown));
    }

    // ------------------------------------------------------------------ GQA

    /**
     * The demo's GQA (4 query heads, 2 KV heads) equals multi-head attention with 4 KV heads whose
     * k/v projections repeat the GQA ones as repeat_kv does: new KV head h = old KV head h / 2.
     */
    @Test
    void gqaEqualsRepeatedKvMultiHead() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode tree = (ObjectNode) json.readTree(demo.resolve("config.json").toFile());
        ((ObjectNode) tree.get("text_config")).put("num_key_value_heads", DemoSpec.TEXT_HEADS);
        ModelConfig mha = ModelConfig.parse(tree, demo.resolve("config.json"));
        int hd = config.text().headDim();
        int g = DemoSpec.TEXT_HEADS / DemoSpec.TEXT_KV_HEADS;
        int in = DemoSpec.TEXT_HIDDEN;
        Map<String, float[]> w = new HashMap<>(weights);
        Map<String, long[]> s = new HashMap<>(shapes);
        for (int l = 0; l < DemoSpec.TEXT_LAYERS; l++) {
            for (String p : new String[] {"k_proj", "v_proj"}) {
                String name = "model.text_model.layers." + l + ".self_attn." + p + ".weight";
                float[] old = weights.get(name);
                float[] nw = new float[DemoSpec.TEXT_HEADS * hd * in];
                for (int h = 0; h < DemoSpec.TEXT_HEADS; h++) {
                    System.arraycopy(old, (h / g) * hd * in, nw, h * hd * in, hd * in);
                }
                w.put(name, nw);
                s.put(name, new long[] {DemoSpec.TEXT_HEADS * hd, in});
            }
        }
        long[] ids = prompt(0, 0, 60, 61, 62);
        float[][] tiles = {randomTile(12)};
        Result a = model.forward(Input.of(ids, tiles, null));
        Result b = new SmolVlmReference(mha, w, s, Map.of()).forward(Input.of(ids, tiles, null));
        assertRowsEqual(a.logits(), b.logits(), 0, ids.length, 1e-12);

        // and the wrong mapping (kv head = h % 2, "tile" instead of "repeat_interleave") differs
        for (int l = 0; l < DemoSpec.TEXT_LAYERS; l++) {
            for (String p : new String[] {"k_proj", "v_proj"}) {
                String name = "model.text_model.layers." + l + ".self_attn." + p + ".weight";
                float[] old = weights.get(name);
                float[] nw = new float[DemoSpec.TEXT_HEADS * hd * in];
                for (int h = 0; h < DemoSpec.TEXT_HEADS; h++) {
                    System.arraycopy(old, (h % DemoSpec.TEXT_KV_HEADS) * hd * in, nw, h * hd * in, hd * in);
                }
                w.put(name, nw);
            }
        }
        Result c = new SmolVlmReference(mha, w, s, Map.of()).forward(Input.of(ids, tiles, null));
        assertTrue(maxAbsDiff(a.logits()[ids.length - 1], c.logits()[ids.length - 1]) > 1e-6);
    }

    @Test
    void float32RopeOptionIsClose() throws IOException {
        long[] ids = prompt(0, 0, 60, 61, 62);
        float[][] tiles = {randomTile(13)};
        Result a = model.forward(Input.of(ids, tiles, null));
        Result b = SmolVlmReference.load(demo, Map.of(), new SmolVlmReference.Options(true))
                .forward(Input.of(ids, tiles, null));
        double d = 0;
        for (int i = 0; i < ids.length; i++) {
            d = Math.max(d, maxAbsDiff(a.logits()[i], b.logits()[i]));
        }
        assertTrue(d < 1e-4, "float32 angles change logits by " + d);
        assertNotEquals(0.0, d);
        assertFalse(Double.isNaN(d));
    }
}
