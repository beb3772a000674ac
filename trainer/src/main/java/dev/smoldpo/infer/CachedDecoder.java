package dev.smoldpo.infer;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.runtime.FirstRunProfile;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.PlacementCheck;
import dev.smoldpo.runtime.SessionSettings;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The three sessions of a deployment folder driven the way transformers.js drives them: token ids
 * through {@code embed_tokens}, image tiles through {@code vision_encoder} with the features written over
 * the {@code <image>} rows, then {@code decoder_model_merged} once over the prompt with an empty cache
 * (prefill) and one position at a time with its {@code present.*} outputs fed back as
 * {@code past_key_values.*} ({@link Cache}). Generation, answer scoring and the transformers.js parity
 * test all decode through this class. Each graph may be any of its precisions ({@link GraphDtypes}); the
 * key/value cache takes the element type the decoder declares for it (float32 or float16), as
 * transformers.js reads it from the session's input metadata, and float16 embeddings, features or
 * logits are converted at the boundary.
 *
 * <p>Not thread-safe.
 */
public final class CachedDecoder implements AutoCloseable {
    private final Path visionFile;
    private final Path embedFile;
    private final Path decoderFile;
    private final ModelConfig config;
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final OrtSession vision;
    private final OrtSession embed;
    private final OrtSession decoder;
    private final Set<String> decoderInputs;
    private final Set<String> visionInputs;
    /** The placement check of each session's first run, by session. */
    private final Map<OrtSession, FirstRunProfile> placement;
    private OnnxJavaType cacheType = OnnxJavaType.FLOAT;
    private OnnxJavaType embedsType = OnnxJavaType.FLOAT;

    private CachedDecoder(Path[] files, ModelConfig config, OrtEnvironment env, OrtSession.SessionOptions options,
                          OrtSession vision, OrtSession embed, OrtSession decoder, Map<OrtSession, FirstRunProfile> placement)
            throws OrtException {
        this.visionFile = files[0];
        this.embedFile = files[1];
        this.decoderFile = files[2];
        this.config = config;
        this.env = env;
        this.options = options;
        this.vision = vision;
        this.embed = embed;
        this.decoder = decoder;
        this.placement = placement;
        this.decoderInputs = decoder.getInputNames();
        this.visionInputs = vision.getInputNames();
    }

    /**
     * Opens the sessions of a deployment folder and checks the decoder's inputs against {@code config}.
     *
     * @param threads intra-op threads (0 = ONNX Runtime's default)
     * @param cuda    run on ONNX Runtime's CUDA execution provider
     */
    public static CachedDecoder open(Path dir, ModelConfig config, int threads, boolean cuda) throws OrtException {
        return open(dir, config, GraphDtypes.FP32, threads, cuda, PlacementCheck.forDevice(cuda));
    }

    /** As above with an explicit placement check of each session's first run. */
    public static CachedDecoder open(Path dir, ModelConfig config, int threads, boolean cuda, PlacementCheck check)
            throws OrtException {
        return open(dir, config, GraphDtypes.FP32, threads, cuda, check);
    }

    /** Opens the deployment folder's files of the chosen precisions. */
    public static CachedDecoder open(DeploymentFolder folder, int threads, boolean cuda) throws OrtException {
        return open(folder.dir(), folder.config(), folder.dtypes(), threads, cuda, PlacementCheck.forDevice(cuda));
    }

    /** Opens the files {@code dtypes} picks in {@code dir}. */
    public static CachedDecoder open(Path dir, ModelConfig config, GraphDtypes dtypes, int threads, boolean cuda)
            throws OrtException {
        return open(dir, config, dtypes, threads, cuda, PlacementCheck.forDevice(cuda));
    }

    /** Opens the files {@code dtypes} picks in {@code dir}, with a placement check of each session's first run. */
    public static CachedDecoder open(Path dir, ModelConfig config, GraphDtypes dtypes, int threads, boolean cuda,
                                     PlacementCheck check) throws OrtException {
        Path[] files = {dir.resolve(dtypes.file(GraphDtypes.VISION_ENCODER)), dir.resolve(dtypes.file(GraphDtypes.EMBED_TOKENS)),
                dir.resolve(dtypes.file(GraphDtypes.DECODER))};
        OrtEnvironment env = OrtRuntime.environment(); // before any other ORT class: it wires the native library
        List<AutoCloseable> opened = new ArrayList<>();
        Map<OrtSession, FirstRunProfile> placement = new java.util.IdentityHashMap<>();
        try {
            OrtSession.SessionOptions options = SessionSettings.options(threads, cuda);
            opened.add(options);
            OrtSession vision = create(env, files[0], options, check, placement, opened);
            OrtSession embed = create(env, files[1], options, check, placement, opened);
            OrtSession decoder = create(env, files[2], options, check, placement, opened);
            CachedDecoder d = new CachedDecoder(files, config, env, options, vision, embed, decoder, placement);
            d.checkInputs();
            return d;
        } catch (OrtException | RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            placement.values().forEach(FirstRunProfile::discard);
            throw e;
        }
    }

    private static OrtSession create(OrtEnvironment env, Path file, OrtSession.SessionOptions options, PlacementCheck check,
                                     Map<OrtSession, FirstRunProfile> placement, List<AutoCloseable> opened) throws OrtException {
        FirstRunProfile armed = FirstRunProfile.arm(check, options, file.getFileName().toString());
        OrtSession s = env.createSession(file.toString(), options);
        opened.add(s);
        placement.put(s, armed);
        return s;
    }

    /** After each run of {@code session}: its placement check, the first time. */
    private void checked(OrtSession session) throws OrtException {
        placement.get(session).afterRun(session);
    }

    private void checkInputs() throws OrtException {
        List<String> missing = new ArrayList<>();
        for (String name : List.of("inputs_embeds", "attention_mask")) {
            if (!decoderInputs.contains(name)) {
                missing.add(name);
            }
        }
        for (int i = 0; i < layers(); i++) {
            for (String kind : List.of("key", "value")) {
                if (!decoderInputs.contains(pastName(i, kind))) {
                    missing.add(pastName(i, kind));
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new InferenceException(decoderFile + " lacks the inputs " + missing
                    + " (config.json has " + layers() + " layers)");
        }
        if (!embed.getInputNames().contains("input_ids")) {
            throw new InferenceException(embedFile + " has no input_ids input");
        }
        embedsType = floatType(decoder.getInputInfo().get("inputs_embeds"), "inputs_embeds");
        NodeInfo past = decoder.getInputInfo().get(pastName(0, "key"));
        if (past.getInfo() instanceof TensorInfo t) {
            cacheType = floatType(past, pastName(0, "key"));
            long[] shape = t.getShape();
            if (shape.length != 4 || shape[1] > 0 && shape[1] != kvHeads() || shape[3] > 0 && shape[3] != headDim()) {
                throw new InferenceException(decoderFile + ": past_key_values.0.key has shape "
                        + Arrays.toString(shape) + ", config.json says [batch, " + kvHeads() + ", past, " + headDim() + "]");
            }
        }
    }

    /** FLOAT or FLOAT16: the element type the decoder declares for one of its inputs. */
    private OnnxJavaType floatType(NodeInfo input, String name) {
        OnnxJavaType t = input.getInfo() instanceof TensorInfo info ? info.type : null;
        if (t != OnnxJavaType.FLOAT && t != OnnxJavaType.FLOAT16) {
            throw new InferenceException(decoderFile + ": input " + name + " is " + t + "; float32 and float16 are supported");
        }
        return t;
    }

    /** Hidden size of the text model: the width of one embedding row. */
    public int hidden() {
        return config.text().hiddenSize();
    }

    private int layers() {
        return config.text().numHiddenLayers();
    }

    private int kvHeads() {
        return config.text().numKeyValueHeads();
    }

    private int headDim() {
        return config.text().headDim();
    }

    /** {@code embed_tokens} of {@code ids}: [ids.length × hidden] floats. */
    public float[] embed(long[] ids) throws OrtException {
        try (OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
             OrtSession.Result r = embed.run(Map.of("input_ids", t))) {
            checked(embed);
            return floats((OnnxTensor) r.get("inputs_embeds").orElse(r.get(0)));
        }
    }

    /**
     * The vision encoder's features for {@code tiles} tiles of [3, height, width] floats with a per-pixel
     * mask ([tiles, height, width] booleans as bytes): one row of {@link #hidden()} floats per image token.
     */
    public float[] imageFeatures(FloatBuffer pixels, ByteBuffer mask, long tiles, long height, long width) throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            if (visionInputs.contains("pixel_values")) {
                in.put("pixel_values", OnnxTensor.createTensor(env, pixels, new long[] {1, tiles, 3, height, width}));
            }
            if (visionInputs.contains("pixel_attention_mask")) {
                in.put("pixel_attention_mask", OnnxTensor.createTensor(env, mask, new long[] {1, tiles, height, width},
                        OnnxJavaType.BOOL));
            }
            try (OrtSession.Result r = vision.run(in)) {
                checked(vision);
                OnnxValue v = r.get("image_features").orElseThrow(() -> new InferenceException(
                        visionFile + " has no image_features output"));
                long[] shape = ((OnnxTensor) v).getInfo().getShape();
                if (shape[shape.length - 1] != hidden()) {
                    throw new InferenceException(visionFile + ": image_features "
                            + Arrays.toString(shape) + " do not end in the text hidden size " + hidden());
                }
                return floats((OnnxTensor) v);
            }
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }

    /** The prompt's embeddings with {@code features} (null for none) written over its image-token rows, in order. */
    public float[] promptEmbeddings(long[] ids, float[] features) throws OrtException {
        float[] embeds = embed(ids);
        long imageTokens = Arrays.stream(ids).filter(id -> id == config.imageTokenId()).count();
        long rows = features == null ? 0 : features.length / hidden();
        if (rows != imageTokens) {
            throw new InferenceException("the prompt has " + imageTokens + " image tokens but the images give " + rows
                    + " feature rows");
        }
        int h = hidden();
        int next = 0;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == config.imageTokenId()) {
                System.arraycopy(features, next++ * h, embeds, i * h, h);
            }
        }
        return embeds;
    }

    /** Runs the prompt's embeddings ([len × hidden]) with an empty cache: the start of a cached decoding. */
    public Cache prefill(float[] embeds, int len) throws OrtException {
        Cache cache = new Cache();
        try {
            cache.run(embeds, len);
            return cache;
        } catch (OrtException | RuntimeException e) {
            cache.close();
            throw e;
        }
    }

    /**
     * One run over a whole sequence with an empty cache, keeping the logits of its last {@code keep}
     * positions: [keep × vocab] floats.
     */
    public float[] logits(float[] embeds, int len, int keep) throws OrtException {
        Map<String, OnnxTensor> past = emptyPast();
        try (OrtSession.Result r = run(embeds, len, 0, past, keep)) {
            return floats((OnnxTensor) r.get("logits").orElseThrow(() -> new InferenceException(
                    decoderFile + " has no logits output")));
        } finally {
            past.values().forEach(OnnxTensor::close);
        }
    }

    /** A decoder's key/value cache and the logits of the last position it ran. */
    public final class Cache implements AutoCloseable {
        private Map<String, OnnxTensor> past;
        private OrtSession.Result held; // owns the tensors in `past` after the first run
        private int length;
        private float[] logits;

        private Cache() throws OrtException {
            this.past = emptyPast();
        }

        private void run(float[] embeds, int len) throws OrtException {
            OrtSession.Result r = CachedDecoder.this.run(embeds, len, length, past, 1);
            release();
            held = r;
            past = presents(r);
            length += len;
            logits = lastLogits(r);
        }

        /** Logits of the last position ([vocab] floats). */
        public float[] logits() {
            return logits;
        }

        /** Positions in the cache. */
        public int length() {
            return length;
        }

        /** Feeds one more token. */
        public void append(long token) throws OrtException {
            run(embed(new long[] {token}), 1);
        }

        private void release() {
            if (held != null) {
                held.close();
            } else if (past != null) {
                past.values().forEach(OnnxTensor::close);
            }
        }

        @Override
        public void close() {
            release();
            held = null;
            past = null;
        }
    }

    /** One decoder run: {@code len} new embeddings after {@code pastLen} cached positions, keeping {@code keep} logits. */
    private OrtSession.Result run(float[] embeds, int len, int pastLen, Map<String, OnnxTensor> past, int keep)
            throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>(past);
        List<OnnxTensor> created = new ArrayList<>();
        try {
            long[] embedsShape = {1, len, hidden()};
            created.add(put(in, "inputs_embeds", embedsType == OnnxJavaType.FLOAT16
                    ? OnnxTensor.createTensor(env, HalfFloats.encode(embeds, len * hidden()), embedsShape, OnnxJavaType.FLOAT16)
                    : OnnxTensor.createTensor(env, FloatBuffer.wrap(embeds, 0, len * hidden()), embedsShape)));
            long[] mask = new long[pastLen + len];
            Arrays.fill(mask, 1);
            created.add(put(in, "attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, mask.length})));
            if (decoderInputs.contains("position_ids")) {
                long[] pos = new long[len];
                for (int i = 0; i < len; i++) {
                    pos[i] = pastLen + i;
                }
                created.add(put(in, "position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {1, len})));
            }
            if (decoderInputs.contains("num_logits_to_keep")) {
                created.add(put(in, "num_logits_to_keep", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {keep}),
                        new long[0])));
            }
            if (decoderInputs.contains("use_cache_branch")) {
                created.add(put(in, "use_cache_branch", OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(1)
                        .put((byte) (pastLen > 0 ? 1 : 0)).flip(), new long[] {1}, OnnxJavaType.BOOL)));
            }
            OrtSession.Result r = decoder.run(in);
            try {
                checked(decoder);
            } catch (OrtException | RuntimeException e) {
                r.close();
                throw e;
            }
            return r;
        } finally {
            created.forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor put(Map<String, OnnxTensor> in, String name, OnnxTensor t) {
        in.put(name, t);
        return t;
    }

    /** Empty caches [1, kv, 0, head_dim] for every layer, of the decoder's cache type. */
    private Map<String, OnnxTensor> emptyPast() throws OrtException {
        Map<String, OnnxTensor> past = new HashMap<>();
        try {
            for (int i = 0; i < layers(); i++) {
                for (String kind : List.of("key", "value")) {
                    past.put(pastName(i, kind), OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(0),
                            new long[] {1, kvHeads(), 0, headDim()}, cacheType));
                }
            }
        } catch (OrtException | RuntimeException e) {
            past.values().forEach(OnnxTensor::close);
            throw e;
        }
        return past;
    }

    /** The present.* outputs of {@code r} under the past_key_values.* input names (owned by {@code r}). */
    private Map<String, OnnxTensor> presents(OrtSession.Result r) {
        Map<String, OnnxTensor> past = new HashMap<>();
        for (int i = 0; i < layers(); i++) {
            for (String kind : List.of("key", "value")) {
                String name = "present." + i + "." + kind;
                OnnxValue v = r.get(name).orElseThrow(() -> new InferenceException(decoderFile + " has no output " + name));
                past.put(pastName(i, kind), (OnnxTensor) v);
            }
        }
        return past;
    }

    private float[] lastLogits(OrtSession.Result r) {
        OnnxTensor logits = (OnnxTensor) r.get("logits").orElseThrow(() -> new InferenceException(
                decoderFile + " has no logits output"));
        long[] shape = logits.getInfo().getShape();
        int vocab = Math.toIntExact(shape[shape.length - 1]);
        float[] all = floats(logits);
        return Arrays.copyOfRange(all, all.length - vocab, all.length);
    }

    /** A float32 or float16 output as floats. */
    private static float[] floats(OnnxTensor t) {
        if (t.getInfo().type == OnnxJavaType.FLOAT16) {
            return HalfFloats.decode(t.getShortBuffer());
        }
        FloatBuffer b = t.getFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    private static String pastName(int layer, String kind) {
        return "past_key_values." + layer + "." + kind;
    }

    @Override
    public void close() throws OrtException {
        OrtException first = null;
        for (OrtSession s : List.of(decoder, embed, vision)) {
            try {
                s.close();
            } catch (OrtException e) {
                first = first == null ? e : first;
            }
            placement.get(s).discard();
        }
        options.close();
        if (first != null) {
            throw first;
        }
    }
}
