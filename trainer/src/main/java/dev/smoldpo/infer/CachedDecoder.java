package dev.smoldpo.infer;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
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
    private final DecoderInputs inputs;
    private final Set<String> visionInputs;
    /** The placement check of each session's first run, by session. */
    private final Map<OrtSession, FirstRunProfile> placement;

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
        this.inputs = new DecoderInputs(decoder, decoderFile, config, env);
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
            if (!d.embed.getInputNames().contains("input_ids")) {
                throw new InferenceException(d.embedFile + " has no input_ids input");
            }
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

    /** Hidden size of the text model: the width of one embedding row. */
    public int hidden() {
        return config.text().hiddenSize();
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
        Map<String, OnnxTensor> past = inputs.emptyPast();
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
            this.past = inputs.emptyPast();
        }

        private void run(float[] embeds, int len) throws OrtException {
            OrtSession.Result r = CachedDecoder.this.run(embeds, len, length, past, 1);
            release();
            held = r;
            past = inputs.presents(r);
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
        List<OnnxTensor> created = inputs.feed(in, embeds, len, pastLen, keep);
        try {
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
