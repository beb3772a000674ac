package dev.smoldpo.model.smolvlm.reference;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * An independent, plain-Java, double-precision forward pass of Idefics3 / SmolVLM
 * ({@code Idefics3ForConditionalGeneration}), written from the upstream transformers code
 * ({@code models/idefics3/modeling_idefics3.py}, {@code models/llama/modeling_llama.py},
 * {@code models/siglip/modeling_siglip.py}). It is the parity oracle for the ONNX graphs and shares
 * no code with {@code dev.smoldpo.model.smolvlm}.
 *
 * <p>Stages (upstream names in brackets):
 * <ol>
 *   <li>drop tiles whose pixel values are all exactly 0 ({@code Idefics3Model.forward}: "Remove
 *       padding images"), with their pixel masks;
 *   <li>per-patch mask: a patch is valid when any of its pixels is ({@code unfold ... sum > 0});
 *   <li>vision embeddings: stride-p patch convolution with bias, plus the position embedding at
 *       bucketed position ids ({@code Idefics3VisionEmbeddings.forward});
 *   <li>SigLIP encoder layers, pre-norm, bidirectional attention whose keys are masked on invalid
 *       patches ({@code Idefics3EncoderLayer}, {@code Idefics3VisionAttention},
 *       {@code _prepare_4d_attention_mask}), MLP {@code fc2(gelu_tanh(fc1(x)))}; then
 *       {@code post_layernorm};
 *   <li>connector: {@code Idefics3Connector.pixel_shuffle}, then {@code modality_projection.proj};
 *   <li>merge: rows of {@code embed_tokens(input_ids)} at {@code image_token_id} are replaced in
 *       order ({@code Idefics3Model.inputs_merger});
 *   <li>Llama decoder ({@code LlamaDecoderLayer}, {@code LlamaRMSNorm}, {@code LlamaRotaryEmbedding},
 *       {@code rotate_half}, {@code apply_rotary_pos_emb}, {@code repeat_kv}, {@code LlamaMLP}); final
 *       norm; {@code lm_head} (or {@code embed_tokens} when tied).
 * </ol>
 * Masked attention scores get {@code + float32 min} added, as the eager attention does; a row with
 * every key masked therefore becomes uniform (only padding positions have such rows; their outputs
 * are meaningless, as upstream's are).
 *
 * <p>LoRA adapters on any linear module {@code m} add {@code scale * B (A x)} to {@code m(x)}, i.e.
 * the module computes with {@code W + scale * B A} (PEFT's {@code lora_B(lora_A(x)) * scaling}).
 */
public final class SmolVlmReference {

    /** A LoRA adapter of one linear module: {@code A [rank, in]}, {@code B [out, rank]}, row-major. */
    public record Lora(float[] a, float[] b, int rank, double scale) {
        public Lora {
            if (rank <= 0 || a.length % rank != 0 || b.length % rank != 0) {
                throw new IllegalArgumentException("LoRA A (" + a.length + ") and B (" + b.length
                        + ") lengths must be multiples of rank " + rank);
            }
        }
    }

    /**
     * Options.
     *
     * @param float32RopeAngles compute RoPE angles as upstream does in float32
     *     ({@code inv_freq} rounded to float, {@code position * inv_freq} rounded to float) and only
     *     then take cos/sin in double; false: angles in exact double arithmetic
     */
    public record Options(boolean float32RopeAngles) {
        public static final Options DEFAULT = new Options(false);
    }

    /**
     * One sequence.
     *
     * @param inputIds token ids [T], with {@code image_token_id} at the image positions
     * @param tiles the preprocessed tiles of the sequence's image(s), each {@code [3, S, S]} row-major
     *     (already rescaled and normalised), in processor order; may include all-zero padding tiles,
     *     which are dropped; null or empty for a text-only sequence
     * @param pixelMask per tile {@code [S, S]}, true for real pixels; null means all real (per tile
     *     entries may also be null)
     * @param attentionMask [T], 1 for real tokens, 0 for padding; null means all ones. Combined with
     *     the causal mask
     * @param positionIds [T]; null means 0..T-1
     * @param allowed optional explicit [T][T] mask ({@code allowed[i][j]}: query i may attend key j);
     *     when given it replaces causal + attentionMask
     */
    public record Input(long[] inputIds, float[][] tiles, boolean[][] pixelMask, long[] attentionMask,
            long[] positionIds, boolean[][] allowed) {

        public static Input text(long[] inputIds) {
            return new Input(inputIds, null, null, null, null, null);
        }

        public static Input of(long[] inputIds, float[][] tiles, boolean[][] pixelMask) {
            return new Input(inputIds, tiles, pixelMask, null, null, null);
        }

        /**
         * From flat processor outputs: {@code pixelValues [n, 3, S, S]} and
         * {@code pixelAttentionMask [n, S, S]} (nonzero = real pixel; null = all real).
         */
        public static Input ofFlat(long[] inputIds, float[] pixelValues, long[] pixelAttentionMask, int n) {
            if (n == 0) {
                return text(inputIds);
            }
            if (pixelValues.length % n != 0) {
                throw new IllegalArgumentException(pixelValues.length + " pixel values are not " + n + " tiles");
            }
            int per = pixelValues.length / n;
            float[][] tiles = new float[n][];
            boolean[][] masks = pixelAttentionMask == null ? null : new boolean[n][];
            int pixels = per / 3;
            if (masks != null && pixelAttentionMask.length != (long) n * pixels) {
                throw new IllegalArgumentException("pixel mask has " + pixelAttentionMask.length + " values, expected "
                        + (long) n * pixels);
            }
            for (int i = 0; i < n; i++) {
                tiles[i] = Arrays.copyOfRange(pixelValues, i * per, (i + 1) * per);
                if (masks != null) {
                    masks[i] = new boolean[pixels];
                    for (int j = 0; j < pixels; j++) {
                        masks[i][j] = pixelAttentionMask[i * pixels + j] != 0;
                    }
                }
            }
            return new Input(inputIds, tiles, masks, null, null, null);
        }

        public Input withAttentionMask(long[] mask) {
            return new Input(inputIds, tiles, pixelMask, mask, positionIds, allowed);
        }

        public Input withPositionIds(long[] ids) {
            return new Input(inputIds, tiles, pixelMask, attentionMask, ids, allowed);
        }

        public Input withAllowed(boolean[][] a) {
            return new Input(inputIds, tiles, pixelMask, attentionMask, positionIds, a);
        }
    }

    /**
     * Everything the forward pass produced.
     *
     * @param keptTiles indices (into {@link Input#tiles}) of the tiles that were not all-zero padding
     * @param patchMasks per kept tile, the per-patch validity [P] (row-major patch grid)
     * @param visionPositionIds per kept tile, the position-embedding row of each patch [P]
     * @param visionOutput per kept tile, the vision transformer's output after post_layernorm [P][Dv]
     * @param connectorOutput per kept tile, the connector's output [P / s^2][Dt]
     * @param inputEmbeds the merged input embeddings [T][Dt]
     * @param finalHidden the decoder's output after the final norm [T][Dt]
     * @param logits [T][V]
     */
    public record Result(int[] keptTiles, List<boolean[]> patchMasks, List<int[]> visionPositionIds,
            List<double[][]> visionOutput, List<double[][]> connectorOutput, double[][] inputEmbeds,
            double[][] finalHidden, double[][] logits) {}

    /** The most negative float32: what the eager attention adds at masked positions. */
    static final double MASK_MIN = -Float.MAX_VALUE;

    private final ModelConfig config;
    private final Map<String, float[]> weights;
    private final Map<String, long[]> shapes;
    private final Map<String, Lora> lora;
    private final Options options;

    /**
     * @param weights every tensor by HF name, row-major f32 (as read from safetensors)
     * @param shapes the shape of every tensor by HF name
     * @param lora adapters by module name (e.g. {@code model.text_model.layers.0.self_attn.q_proj});
     *     may be empty
     */
    public SmolVlmReference(ModelConfig config, Map<String, float[]> weights, Map<String, long[]> shapes,
            Map<String, Lora> lora, Options options) {
        this.config = config;
        this.weights = Map.copyOf(weights);
        this.shapes = Map.copyOf(shapes);
        this.lora = lora == null ? Map.of() : Map.copyOf(lora);
        this.options = options == null ? Options.DEFAULT : options;
        for (ModelConfig.WeightSpec s : config.expectedWeights()) {
            float[] v = weights.get(s.name());
            long[] shape = shapes.get(s.name());
            if (v == null || shape == null) {
                throw new IllegalArgumentException("missing weight " + s);
            }
            if (!Arrays.equals(shape, s.shape()) || v.length != s.elementCount()) {
                throw new IllegalArgumentException(s.name() + ": shape " + Arrays.toString(shape) + " with "
                        + v.length + " values, expected " + Arrays.toString(s.shape()));
            }
        }
        for (Map.Entry<String, Lora> e : this.lora.entrySet()) {
            long[] shape = shapes.get(e.getKey() + ".weight");
            if (shape == null || shape.length != 2) {
                throw new IllegalArgumentException("LoRA on unknown linear module " + e.getKey());
            }
            Lora l = e.getValue();
            if (l.a().length != l.rank() * shape[1] || l.b().length != shape[0] * l.rank()) {
                throw new IllegalArgumentException("LoRA " + e.getKey() + ": A must be [" + l.rank() + ", "
                        + shape[1] + "] and B [" + shape[0] + ", " + l.rank() + "]");
            }
        }
    }

    public SmolVlmReference(ModelConfig config, Map<String, float[]> weights, Map<String, long[]> shapes,
            Map<String, Lora> lora) {
        this(config, weights, shapes, lora, Options.DEFAULT);
    }

    /** Loads {@code config.json} and the expected tensors of {@code model.safetensors} from a checkpoint folder. */
    public static SmolVlmReference load(Path dir, Map<String, Lora> lora, Options options) throws IOException {
        ModelConfig c = ModelConfig.load(dir);
        Map<String, float[]> w = new HashMap<>();
        Map<String, long[]> s = new HashMap<>();
        Path file = dir.resolve("model.safetensors");
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + " not found");
        }
        try (SafetensorsFile sf = SafetensorsFile.open(file)) {
            readWeights(c, sf, w, s);
        }
        return new SmolVlmReference(c, w, s, lora, options);
    }

    public static SmolVlmReference load(Path dir) throws IOException {
        return load(dir, Map.of(), Options.DEFAULT);
    }

    /** Reads every tensor the config expects from {@code sf} into {@code weights} and {@code shapes}. */
    public static void readWeights(ModelConfig c, SafetensorsFile sf, Map<String, float[]> weights,
            Map<String, long[]> shapes) throws IOException {
        for (ModelConfig.WeightSpec spec : c.expectedWeights()) {
            weights.put(spec.name(), sf.readFloat32(spec.name()));
            shapes.put(spec.name(), sf.info(spec.name()).shape());
        }
    }

    public ModelConfig config() {
        return config;
    }

    /** A copy of this model with other adapters (same weights and options). */
    public SmolVlmReference withLora(Map<String, Lora> adapters) {
        return new SmolVlmReference(config, weights, shapes, adapters, options);
    }

    // =====================================================================================
    // Whole model
    // =====================================================================================

    /** Runs the full forward pass of one sequence. */
    public Result forward(Input in) {
        long[] ids = in.inputIds();
        int t = ids.length;
        int dt = config.text().hiddenSize();

        // ---- vision: drop padding tiles, encode, connect ----
        List<Integer> kept = new ArrayList<>();
        List<boolean[]> patchMasks = new ArrayList<>();
        List<int[]> posIds = new ArrayList<>();
        List<double[][]> visionOut = new ArrayList<>();
        List<double[][]> connOut = new ArrayList<>();
        if (in.tiles() != null) {
            for (int i = 0; i < in.tiles().length; i++) {
                float[] tile = in.tiles()[i];
                if (isAllZero(tile)) {
                    continue; // "Remove padding images - padding images are full 0."
                }
                kept.add(i);
                boolean[] pm = in.pixelMask() == null ? null : in.pixelMask()[i];
                VisionTile v = encodeTile(tile, pm);
                patchMasks.add(v.patchMask());
                posIds.add(v.positionIds());
                visionOut.add(v.output());
                connOut.add(connector(v.output()));
            }
        }

        // ---- text embeddings and merge ----
        double[][] embeds = new double[t][];
        float[] table = weights.get("model.text_model.embed_tokens.weight");
        for (int i = 0; i < t; i++) {
            long id = ids[i];
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " at " + i + " is outside the vocabulary");
            }
            embeds[i] = row(table, (int) id, dt);
        }
        int imageTokens = 0;
        for (long id : ids) {
            if (id == config.imageTokenId()) {
                imageTokens++;
            }
        }
        if (!connOut.isEmpty()) {
            int perTile = connOut.get(0).length;
            if (imageTokens != perTile * connOut.size()) {
                throw new IllegalArgumentException("input_ids hold " + imageTokens + " image tokens but "
                        + connOut.size() + " kept tiles give " + perTile * connOut.size() + " image features");
            }
            int k = 0;
            for (int i = 0; i < t; i++) {
                if (ids[i] == config.imageTokenId()) {
                    embeds[i] = connOut.get(k / perTile)[k % perTile].clone();
                    k++;
                }
            }
        }
        double[][] inputEmbeds = copy(embeds);

        // ---- decoder ----
        long[] pos = in.positionIds();
        if (pos == null) {
            pos = new long[t];
            for (int i = 0; i < t; i++) {
                pos[i] = i;
            }
        }
        boolean[][] allowed = in.allowed() != null ? in.allowed() : causalMask(t, in.attentionMask());
        double[][] h = decoder(embeds, pos, allowed);
        double[][] logits = lmHead(h);

        int[] keptArr = kept.stream().mapToInt(Integer::intValue).toArray();
        return new Result(keptArr, Collections.unmodifiableList(patchMasks), Collections.unmodifiableList(posIds),
                Collections.unmodifiableList(visionOut), Collections.unmodifiableList(connOut), inputEmbeds, h, logits);
    }

    /** The causal mask combined with a key padding mask ({@code attentionMask[j] == 0} hides key j). */
    public static boolean[][] causalMask(int t, long[] attentionMask) {
        boolean[][] a = new boolean[t][t];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j <= i; j++) {
                a[i][j] = attentionMask == null || attentionMask[j] != 0;
            }
        }
        return a;
    }

    /**
     * The log-probability of tokens {@code from..to-1} given everything before them:
     * {@code sum_{t=from}^{to-1} log_softmax(logits[t-1])[inputIds[t]]}.
     */
    public static double completionLogProb(double[][] logits, long[] inputIds, int from, int to) {
        if (from < 1 || to > inputIds.length || from > to) {
            throw new IllegalArgumentException("need 1 <= from <= to <= " + inputIds.length + ", got " + from + ", " + to);
        }
        double sum = 0;
        for (int t = from; t < to; t++) {
            sum += logSoftmax(logits[t - 1])[(int) inputIds[t]];
        }
        return sum;
    }

    /** log_softmax of one row, computed stably. */
    public static double[] logSoftmax(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) {
            max = Math.max(max, v);
        }
        double s = 0;
        for (double v : x) {
            s += Math.exp(v - max);
        }
        double lse = max + Math.log(s);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] - lse;
        }
        return out;
    }

    // =====================================================================================
    // Vision tower
    // =====================================================================================

    /** One encoded tile. */
    public record VisionTile(boolean[] patchMask, int[] positionIds, double[][] output) {}

    /** The vision transformer on one tile {@code [3, S, S]} with its pixel mask {@code [S, S]} (null = all valid). */
    public VisionTile encodeTile(float[] tile, boolean[] pixelMask) {
        ModelConfig.VisionConfig vc = config.vision();
        int ch = vc.numChannels();
        int p = vc.patchSize();
        int side = (int) Math.round(Math.sqrt(tile.length / (double) ch));
        if (side * side * ch != tile.length || side % p != 0) {
            throw new IllegalArgumentException("tile of " + tile.length + " values is not [" + ch
                    + ", S, S] with S a multiple of " + p);
        }
        int grid = side / p;
        int np = grid * grid;
        int d = vc.hiddenSize();

        boolean[] patchMask = pixelMask == null ? allTrue(np) : patchMask(pixelMask, side, p);
        int[] posIds = visionPositionIds(patchMask, grid, grid, vc.patchesPerSide());

        // patch_embedding: Conv2d(kernel = stride = p, padding "valid") then flatten(2).transpose(1, 2)
        float[] cw = weights.get("model.vision_model.embeddings.patch_embedding.weight"); // [d, ch, p, p]
        float[] cb = weights.get("model.vision_model.embeddings.patch_embedding.bias");
        float[] posTable = weights.get("model.vision_model.embeddings.position_embedding.weight");
        double[][] x = new double[np][d];
        IntStream.range(0, np).parallel().forEach(patch -> {
            int py = patch / grid;
            int px = patch % grid;
            double[] out = x[patch];
            for (int o = 0; o < d; o++) {
                double s = cb[o];
                for (int c = 0; c < ch; c++) {
                    for (int ky = 0; ky < p; ky++) {
                        int wBase = ((o * ch + c) * p + ky) * p;
                        int pBase = (c * side + py * p + ky) * side + px * p;
                        for (int kx = 0; kx < p; kx++) {
                            s += (double) cw[wBase + kx] * tile[pBase + kx];
                        }
                    }
                }
                out[o] = s + posTable[posIds[patch] * d + o];
            }
        });

        // _prepare_4d_attention_mask only when some patch is invalid
        boolean anyInvalid = false;
        for (boolean b : patchMask) {
            anyInvalid |= !b;
        }
        boolean[][] allowed = new boolean[np][np];
        for (boolean[] r : allowed) {
            for (int j = 0; j < np; j++) {
                r[j] = !anyInvalid || patchMask[j];
            }
        }

        int heads = vc.numAttentionHeads();
        double eps = vc.layerNormEps();
        for (int l = 0; l < vc.numHiddenLayers(); l++) {
            String pre = "model.vision_model.encoder.layers." + l + ".";
            double[][] hN = layerNorm(x, weights.get(pre + "layer_norm1.weight"), weights.get(pre + "layer_norm1.bias"), eps);
            double[][] q = linear(pre + "self_attn.q_proj", hN);
            double[][] k = linear(pre + "self_attn.k_proj", hN);
            double[][] v = linear(pre + "self_attn.v_proj", hN);
            double[][] attn = attention(q, k, v, heads, heads, d / heads, allowed);
            double[][] o = linear(pre + "self_attn.out_proj", attn);
            add(x, o);
            hN = layerNorm(x, weights.get(pre + "layer_norm2.weight"), weights.get(pre + "layer_norm2.bias"), eps);
            double[][] f = linear(pre + "mlp.fc1", hN);
            for (double[] r : f) {
                for (int i = 0; i < r.length; i++) {
                    r[i] = geluTanh(r[i]);
                }
            }
            add(x, linear(pre + "mlp.fc2", f));
        }
        double[][] out = layerNorm(x, weights.get("model.vision_model.post_layernorm.weight"),
                weights.get("model.vision_model.post_layernorm.bias"), eps);
        return new VisionTile(patchMask, posIds, out);
    }

    /** {@code Idefics3Connector.forward}: pixel shuffle, then {@code modality_projection.proj} (no bias). */
    public double[][] connector(double[][] visionOutput) {
        return linear("model.connector.modality_projection.proj", pixelShuffle(visionOutput, config.scaleFactor()));
    }

    /**
     * Per-patch validity from a per-pixel mask {@code [S, S]}: a patch is valid when any of its
     * pixels is (upstream: {@code unfold(1, p, p).unfold(2, p, p).sum((-1, -2)) > 0}).
     */
    public static boolean[] patchMask(boolean[] pixelMask, int side, int p) {
        int grid = side / p;
        boolean[] m = new boolean[grid * grid];
        for (int y = 0; y < grid * p; y++) {
            for (int x = 0; x < grid * p; x++) {
                if (pixelMask[y * side + x]) {
                    m[(y / p) * grid + x / p] = true;
                }
            }
        }
        return m;
    }

    /**
     * {@code Idefics3VisionEmbeddings.forward}'s position ids for one tile (the original form, restored
     * upstream after the v4.55 regression, transformers PR #41371):
     * <pre>
     * boundaries = arange(1/n, 1.0, 1/n)                      # n = num_patches_per_side
     * nb_h = mask[:, 0].sum(); nb_w = mask[0].sum()
     * coords_h = arange(0, 1 - 1e-6, 1/nb_h)                   # float32: i * float32(1/nb_h)
     * bucket_h = bucketize(coords_h, boundaries, right=True)   # = #{boundaries <= coord}
     * pos = (bucket_h[:, None] * n + bucket_w).flatten()       # assigned to the valid patches in order
     * </pre>
     * Invalid patches keep id 0. The arithmetic is done in float32 as in torch: the step
     * {@code 1 / nb} is a float32 tensor, arange forms {@code start + step * i} in double and rounds
     * to float32, the boundaries likewise.
     *
     * @param patchMask [gridH * gridW], row-major
     * @throws IllegalArgumentException when the valid patches do not form the top-left
     *     {@code nb_h x nb_w} rectangle (upstream fails on the size mismatch)
     */
    public static int[] visionPositionIds(boolean[] patchMask, int gridH, int gridW, int numPatchesPerSide) {
        int n = numPatchesPerSide;
        int nbH = 0;
        for (int y = 0; y < gridH; y++) {
            nbH += patchMask[y * gridW] ? 1 : 0;
        }
        int nbW = 0;
        for (int x = 0; x < gridW; x++) {
            nbW += patchMask[x] ? 1 : 0;
        }
        // boundaries: torch.arange(1/n, 1.0, 1/n), float32 values of start + step * i
        double stepB = 1.0 / n;
        int lenB = (int) Math.ceil((1.0 - stepB) / stepB);
        float[] boundaries = new float[lenB];
        for (int i = 0; i < lenB; i++) {
            boundaries[i] = (float) (stepB + stepB * i);
        }
        int[] bucketH = buckets(nbH, boundaries);
        int[] bucketW = buckets(nbW, boundaries);
        int valid = 0;
        for (boolean b : patchMask) {
            valid += b ? 1 : 0;
        }
        if (valid != bucketH.length * bucketW.length) {
            throw new IllegalArgumentException("the " + valid + " valid patches are not the top-left " + nbH + " x "
                    + nbW + " rectangle of the patch grid");
        }
        int[] ids = new int[patchMask.length];
        int k = 0;
        for (int i = 0; i < patchMask.length; i++) {
            if (patchMask[i]) {
                int r = k / bucketW.length;
                int c = k % bucketW.length;
                ids[i] = bucketH[r] * n + bucketW[c];
                k++;
            }
        }
        return ids;
    }

    /** bucketize(arange(0, 1 - 1e-6, float32(1/nb)), boundaries, right=True). */
    private static int[] buckets(int nb, float[] boundaries) {
        if (nb == 0) {
            return new int[0];
        }
        double step = (float) (1.0 / nb); // 1 / tensor(nb) is a float32 tensor
        double end = 1 - 1e-6;
        int len = (int) Math.ceil(end / step);
        int[] out = new int[len];
        for (int i = 0; i < len; i++) {
            float coord = (float) (step * i);
            int b = 0;
            for (float bd : boundaries) {
                if (bd <= coord) {
                    b++;
                }
            }
            out[i] = b;
        }
        return out;
    }

    /**
     * {@code Idefics3Connector.pixel_shuffle} for one tile, {@code x [seq, D]} to
     * {@code [seq / s^2, D * s^2]}. Following the view/permute/reshape steps upstream takes (with
     * {@code h = w = sqrt(seq)}), output row {@code i2 * (w/s) + j2}, feature
     * {@code f = a * (s * D) + b * D + d} is input patch {@code (i2 * s + a, j2 * s + b)}, channel
     * {@code d}: row-major s x s blocks, each flattened as (row offset a, column offset b, channel).
     */
    public static double[][] pixelShuffle(double[][] x, int s) {
        int seq = x.length;
        int dim = x[0].length;
        int side = (int) Math.round(Math.sqrt(seq));
        if (side * side != seq || side % s != 0) {
            throw new IllegalArgumentException("pixel_shuffle needs a square grid divisible by " + s + ", got " + seq);
        }
        int g = side / s;
        double[][] out = new double[g * g][dim * s * s];
        for (int i2 = 0; i2 < g; i2++) {
            for (int j2 = 0; j2 < g; j2++) {
                double[] o = out[i2 * g + j2];
                for (int a = 0; a < s; a++) {
                    for (int b = 0; b < s; b++) {
                        double[] src = x[(i2 * s + a) * side + j2 * s + b];
                        System.arraycopy(src, 0, o, a * s * dim + b * dim, dim);
                    }
                }
            }
        }
        return out;
    }

    // =====================================================================================
    // Text model
    // =====================================================================================

    private double[][] decoder(double[][] x, long[] pos, boolean[][] allowed) {
        ModelConfig.TextConfig tc = config.text();
        int hq = tc.numAttentionHeads();
        int hkv = tc.numKeyValueHeads();
        int hd = tc.headDim();
        double eps = tc.rmsNormEps();
        for (int l = 0; l < tc.numHiddenLayers(); l++) {
            String pre = "model.text_model.layers." + l + ".";
            double[][] h = rmsNorm(x, weights.get(pre + "input_layernorm.weight"), eps);
            double[][] q = linear(pre + "self_attn.q_proj", h);
            double[][] k = linear(pre + "self_attn.k_proj", h);
            double[][] v = linear(pre + "self_attn.v_proj", h);
            for (int i = 0; i < x.length; i++) {
                for (int head = 0; head < hq; head++) {
                    applyRope(q[i], head * hd, hd, pos[i], tc.ropeTheta(), options.float32RopeAngles());
                }
                for (int head = 0; head < hkv; head++) {
                    applyRope(k[i], head * hd, hd, pos[i], tc.ropeTheta(), options.float32RopeAngles());
                }
            }
            double[][] attn = attention(q, k, v, hq, hkv, hd, allowed);
            add(x, linear(pre + "self_attn.o_proj", attn));
            h = rmsNorm(x, weights.get(pre + "post_attention_layernorm.weight"), eps);
            double[][] gate = linear(pre + "mlp.gate_proj", h);
            double[][] up = linear(pre + "mlp.up_proj", h);
            for (int i = 0; i < gate.length; i++) {
                for (int j = 0; j < gate[i].length; j++) {
                    gate[i][j] = silu(gate[i][j]) * up[i][j];
                }
            }
            add(x, linear(pre + "mlp.down_proj", gate));
        }
        return rmsNorm(x, weights.get("model.text_model.norm.weight"), eps);
    }

    private double[][] lmHead(double[][] h) {
        String name = config.tieWordEmbeddings() ? "model.text_model.embed_tokens" : "lm_head";
        return linear(name, h);
    }

    // =====================================================================================
    // Building blocks (static ones are tested directly)
    // =====================================================================================

    /**
     * Multi-head attention with grouped KV heads ({@code repeat_kv}: KV head {@code j} serves query
     * heads {@code j*G .. j*G+G-1}, {@code G = hq / hkv}), scale {@code head_dim^-0.5}, masked scores
     * {@code + float32 min}, softmax over keys. q [T][hq*hd], k and v [T][hkv*hd]; returns [T][hq*hd].
     */
    static double[][] attention(double[][] q, double[][] k, double[][] v, int hq, int hkv, int hd,
            boolean[][] allowed) {
        int t = q.length;
        int tk = k.length;
        int groups = hq / hkv;
        double scale = Math.pow(hd, -0.5);
        double[][] out = new double[t][hq * hd];
        IntStream.range(0, t).parallel().forEach(i -> {
            double[] scores = new double[tk];
            for (int head = 0; head < hq; head++) {
                int kvHead = head / groups;
                int qo = head * hd;
                int ko = kvHead * hd;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < tk; j++) {
                    double s = 0;
                    for (int e = 0; e < hd; e++) {
                        s += q[i][qo + e] * k[j][ko + e];
                    }
                    s *= scale;
                    if (!allowed[i][j]) {
                        s += MASK_MIN;
                    }
                    scores[j] = s;
                    max = Math.max(max, s);
                }
                double sum = 0;
                for (int j = 0; j < tk; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = 0; j < tk; j++) {
                    double wgt = scores[j] / sum;
                    if (wgt == 0) {
                        continue;
                    }
                    for (int e = 0; e < hd; e++) {
                        out[i][qo + e] += wgt * v[j][ko + e];
                    }
                }
            }
        });
        return out;
    }

    /** {@code rotate_half}: {@code cat(-x[d/2:], x[:d/2])}. */
    public static double[] rotateHalf(double[] x) {
        int half = x.length / 2;
        double[] r = new double[x.length];
        for (int i = 0; i < half; i++) {
            r[i] = -x[half + i];
            r[half + i] = x[i];
        }
        return r;
    }

    /**
     * RoPE on {@code x[off .. off+hd)} in place: {@code x * cos + rotate_half(x) * sin} with
     * {@code inv_freq[i] = 1 / theta^(2i / hd)}, {@code emb = cat(freqs, freqs)},
     * {@code freqs = position * inv_freq}.
     */
    public static void applyRope(double[] x, int off, int hd, long position, double theta, boolean float32Angles) {
        int half = hd / 2;
        double[] seg = Arrays.copyOfRange(x, off, off + hd);
        double[] rot = rotateHalf(seg);
        for (int j = 0; j < hd; j++) {
            int i = j % half;
            double angle;
            if (float32Angles) {
                // inv_freq = 1.0 / (base ** (arange(0, dim, 2).float() / dim)) in float32,
                // freqs = inv_freq @ position_ids.float() in float32
                float expo = (float) (2 * i) / (float) hd;
                float invFreq = (float) (1.0 / (float) Math.pow(theta, expo));
                angle = (float) ((double) invFreq * (float) position);
            } else {
                angle = position / Math.pow(theta, 2.0 * i / hd);
            }
            x[off + j] = seg[j] * Math.cos(angle) + rot[j] * Math.sin(angle);
        }
    }

    /** {@code LlamaRMSNorm}: {@code w * x / sqrt(mean(x^2) + eps)} per row. */
    public static double[][] rmsNorm(double[][] x, float[] w, double eps) {
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = rmsNorm(x[i], w, eps);
        }
        return out;
    }

    public static double[] rmsNorm(double[] x, float[] w, double eps) {
        double ms = 0;
        for (double v : x) {
            ms += v * v;
        }
        ms /= x.length;
        double inv = 1.0 / Math.sqrt(ms + eps);
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = w[i] * (x[i] * inv);
        }
        return o;
    }

    /** {@code nn.LayerNorm}: {@code (x - mean) / sqrt(var + eps) * w + b}, biased variance, per row. */
    public static double[][] layerNorm(double[][] x, float[] w, float[] b, double eps) {
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = layerNorm(x[i], w, b, eps);
        }
        return out;
    }

    public static double[] layerNorm(double[] x, float[] w, float[] b, double eps) {
        double mean = 0;
        for (double v : x) {
            mean += v;
        }
        mean /= x.length;
        double var = 0;
        for (double v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= x.length;
        double inv = 1.0 / Math.sqrt(var + eps);
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = (x[i] - mean) * inv * w[i] + b[i];
        }
        return o;
    }

    /** {@code gelu_pytorch_tanh}: {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}. */
    public static double geluTanh(double x) {
        return 0.5 * x * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /** {@code silu}: {@code x * sigmoid(x)}. */
    public static double silu(double x) {
        return x / (1.0 + Math.exp(-x));
    }

    /**
     * {@code nn.Linear} of module {@code name} ({@code name.weight [out, in]}, optional
     * {@code name.bias}) on every row, plus {@code scale * B (A x)} when the module has an adapter.
     */
    double[][] linear(String name, double[][] x) {
        float[] w = weights.get(name + ".weight");
        long[] shape = shapes.get(name + ".weight");
        if (w == null) {
            throw new IllegalStateException("no weight " + name + ".weight");
        }
        int out = (int) shape[0];
        int in = (int) shape[1];
        float[] bias = weights.get(name + ".bias");
        Lora ad = lora.get(name);
        double[][] y = new double[x.length][out];
        IntStream.range(0, x.length).parallel().forEach(r -> {
            double[] xr = x[r];
            if (xr.length != in) {
                throw new IllegalArgumentException(name + ": input width " + xr.length + ", expected " + in);
            }
            double[] yr = y[r];
            for (int o = 0; o < out; o++) {
                double s = bias == null ? 0 : bias[o];
                int base = o * in;
                for (int i = 0; i < in; i++) {
                    s += (double) w[base + i] * xr[i];
                }
                yr[o] = s;
            }
            if (ad != null) {
                int rank = ad.rank();
                double[] ax = new double[rank];
                for (int k = 0; k < rank; k++) {
                    double s = 0;
                    for (int i = 0; i < in; i++) {
                        s += (double) ad.a()[k * in + i] * xr[i];
                    }
                    ax[k] = s;
                }
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    for (int k = 0; k < rank; k++) {
                        s += (double) ad.b()[o * rank + k] * ax[k];
                    }
                    yr[o] += ad.scale() * s;
                }
            }
        });
        return y;
    }

    // =====================================================================================
    // small helpers
    // =====================================================================================

    private static boolean isAllZero(float[] v) {
        for (float f : v) {
            if (f != 0.0f) {
                return false;
            }
        }
        return true;
    }

    private static boolean[] allTrue(int n) {
        boolean[] b = new boolean[n];
        Arrays.fill(b, true);
        return b;
    }

    private static double[] row(float[] table, int r, int width) {
        double[] o = new double[width];
        for (int i = 0; i < width; i++) {
            o[i] = table[r * width + i];
        }
        return o;
    }

    private static void add(double[][] x, double[][] y) {
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[i].length; j++) {
                x[i][j] += y[i][j];
            }
        }
    }

    private static double[][] copy(double[][] x) {
        double[][] c = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            c[i] = x[i].clone();
        }
        return c;
    }
}
