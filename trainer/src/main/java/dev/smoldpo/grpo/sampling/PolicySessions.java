package dev.smoldpo.grpo.sampling;

import static dev.smoldpo.model.smolvlm.SamplingGraphs.*;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.PatchPositions;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.FirstRunProfile;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.runtime.PlacementCheck;
import dev.smoldpo.runtime.SessionSettings;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The ORT sessions of the sampling graphs and the cached decoding of a group: the prompt runs once
 * (prefill, one row), its key/value cache is copied to G rows, then every step decodes one token
 * for all G rows in one run. Under CUDA, each session's first run gets the placement check
 * {@link PlacementCheck#ENV} asks for, as fit's sessions do. Not thread-safe.
 */
final class PolicySessions implements AutoCloseable {
    private final ModelConfig config;
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final OrtSession vision;
    private final OrtSession decoder;
    final AdapterInputs adapters;
    private final FirstRunProfile visionPlacement;
    private final FirstRunProfile decoderPlacement;

    private PolicySessions(ModelConfig config, OrtEnvironment env, OrtSession.SessionOptions options, OrtSession vision,
                           OrtSession decoder, AdapterInputs adapters, FirstRunProfile visionPlacement,
                           FirstRunProfile decoderPlacement) {
        this.config = config;
        this.env = env;
        this.options = options;
        this.vision = vision;
        this.decoder = decoder;
        this.adapters = adapters;
        this.visionPlacement = visionPlacement;
        this.decoderPlacement = decoderPlacement;
    }

    static PolicySessions open(PolicyGraphs graphs, int threads, boolean cuda) throws OrtException {
        return open(graphs, threads, cuda, PlacementCheck.forDevice(cuda));
    }

    /** As above with an explicit placement check of each session's first run. */
    static PolicySessions open(PolicyGraphs graphs, int threads, boolean cuda, PlacementCheck check) throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        OrtSession.SessionOptions options = SessionSettings.options(threads, cuda);
        OrtSession vision = null;
        FirstRunProfile visionPlacement = null;
        FirstRunProfile decoderPlacement = null;
        try {
            visionPlacement = FirstRunProfile.arm(check, options, PolicyGraphs.VISION);
            vision = env.createSession(graphs.vision().toString(), options);
            decoderPlacement = FirstRunProfile.arm(check, options, PolicyGraphs.DECODER);
            OrtSession decoder = env.createSession(graphs.decoder().toString(), options);
            return new PolicySessions(graphs.config, env, options, vision, decoder, new AdapterInputs(env, graphs.targets),
                    visionPlacement, decoderPlacement);
        } catch (OrtException | RuntimeException e) {
            if (vision != null) {
                vision.close();
            }
            for (FirstRunProfile p : new FirstRunProfile[] {visionPlacement, decoderPlacement}) {
                if (p != null) {
                    p.discard();
                }
            }
            options.close();
            throw e;
        }
    }

    /** Image features [tiles · image_seq_len · D] of {@code tiles}, patch positions computed as training's collator does. */
    float[] imageFeatures(DpoCollator.Tiles tiles) throws OrtException {
        int s = config.vision().imageSize();
        int p = config.vision().patchSize();
        int patches = config.vision().numPatches();
        if (tiles.pixels().length != (long) tiles.count() * 3 * s * s) {
            throw new IllegalArgumentException("the prompt's image has " + tiles.pixels().length + " pixel values for "
                    + tiles.count() + " tiles of 3x" + s + "x" + s);
        }
        long[] positions = new long[tiles.count() * patches];
        boolean[] mask = new boolean[tiles.count() * patches];
        for (int i = 0; i < tiles.count(); i++) {
            boolean[] pixelMask = tiles.pixelMask() == null ? null
                    : Arrays.copyOfRange(tiles.pixelMask(), i * s * s, (i + 1) * s * s);
            boolean[] patchMask = PatchPositions.patchMask(pixelMask, s, p);
            System.arraycopy(patchMask, 0, mask, i * patches, patches);
            System.arraycopy(PatchPositions.positionIds(patchMask, s / p), 0, positions, i * patches, patches);
        }
        Map<String, TensorData> data = Map.of(
                SmolVlmInputs.PIXEL_VALUES, TensorData.floats(new long[] {tiles.count(), 3, s, s}, tiles.pixels()),
                SmolVlmInputs.PATCH_POSITION_IDS, TensorData.longs(new long[] {tiles.count(), patches}, positions),
                SmolVlmInputs.PATCH_MASK, TensorData.bools(new long[] {tiles.count(), patches}, mask));
        Map<String, OnnxTensor> in = new HashMap<>(OrtTensors.of(env, data));
        try {
            adapters.feed(vision.getInputNames(), in);
            try (OrtSession.Result r = vision.run(in)) {
                visionPlacement.afterRun(vision);
                return OrtTensors.floats(r.get(IMAGE_FEATURES).orElseThrow());
            }
        } finally {
            for (String name : data.keySet()) {
                in.get(name).close();
            }
        }
    }

    /** The prompt's run: {@code ids} with {@code features} ([image tokens · D], or empty) at its image tokens. */
    Cache prefill(long[] ids, float[] features) throws OrtException {
        int d = config.text().hiddenSize();
        long imageTokens = Arrays.stream(ids).filter(id -> id == config.imageTokenId()).count();
        if (features.length != imageTokens * d) {
            throw new IllegalArgumentException("the prompt has " + imageTokens + " image tokens but its image gives "
                    + features.length / d + " feature rows");
        }
        long[] merge = new long[ids.length];
        int next = 0;
        for (int i = 0; i < ids.length; i++) {
            merge[i] = ids[i] == config.imageTokenId() ? ids.length + next++ : i;
        }
        Cache cache = new Cache(1);
        try {
            cache.run(ids, features, merge);
            return cache;
        } catch (OrtException | RuntimeException e) {
            cache.close();
            throw e;
        }
    }

    /** A key/value cache of {@code rows} sequences of equal length and the logits of their last positions. */
    final class Cache implements AutoCloseable {
        private final int rows;
        private Map<String, OnnxTensor> past = new HashMap<>();
        private OrtSession.Result held; // owns the tensors in `past` once a run has made them
        private int length;
        private float[][] logits;

        private Cache(int rows) throws OrtException {
            this.rows = rows;
            ModelConfig.TextConfig t = config.text();
            for (int l = 0; l < t.numHiddenLayers(); l++) {
                for (String kind : List.of("key", "value")) {
                    past.put(pastName(l, kind), OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(0),
                            new long[] {rows, t.numKeyValueHeads(), 0, t.headDim()}, OnnxJavaType.FLOAT));
                }
            }
        }

        /** Logits of each row's last position ([rows][vocab]). */
        float[][] logits() {
            return logits;
        }

        int length() {
            return length;
        }

        /** This one-row cache copied to {@code n} rows (the prompt's cache shared by a group). */
        Cache repeat(int n) throws OrtException {
            if (rows != 1) {
                throw new IllegalStateException("only a one-row cache repeats");
            }
            Cache copy = new Cache(n);
            copy.release();
            copy.past = new HashMap<>();
            try {
                for (Map.Entry<String, OnnxTensor> e : past.entrySet()) {
                    long[] shape = e.getValue().getInfo().getShape();
                    FloatBuffer one = e.getValue().getFloatBuffer();
                    FloatBuffer all = ByteBuffer.allocateDirect(one.remaining() * n * Float.BYTES).order(ByteOrder.nativeOrder())
                            .asFloatBuffer();
                    for (int r = 0; r < n; r++) {
                        all.put(one.duplicate());
                    }
                    shape[0] = n;
                    copy.past.put(e.getKey(), OnnxTensor.createTensor(env, all.flip(), shape));
                }
            } catch (OrtException | RuntimeException ex) {
                copy.close();
                throw ex;
            }
            copy.length = length;
            copy.logits = new float[n][];
            Arrays.fill(copy.logits, logits[0]);
            return copy;
        }

        /** Feeds one token per row. */
        void append(long[] tokens) throws OrtException {
            if (tokens.length != rows) {
                throw new IllegalArgumentException(tokens.length + " tokens for " + rows + " rows");
            }
            long[] merge = new long[rows];
            for (int r = 0; r < rows; r++) {
                merge[r] = r;
            }
            run(tokens, new float[0], merge);
        }

        private void run(long[] ids, float[] features, long[] merge) throws OrtException {
            int seq = ids.length / rows;
            int d = config.text().hiddenSize();
            long[] mask = new long[rows * (length + seq)];
            Arrays.fill(mask, 1);
            long[] positions = new long[rows * seq];
            for (int i = 0; i < positions.length; i++) {
                positions[i] = length + i % seq;
            }
            Map<String, TensorData> data = Map.of(
                    INPUT_IDS, TensorData.longs(new long[] {rows, seq}, ids),
                    IMAGE_FEATURES, TensorData.floats(new long[] {features.length / d, d}, features),
                    MERGE_INDEX, TensorData.longs(new long[] {rows, seq}, merge),
                    ATTENTION_MASK, TensorData.longs(new long[] {rows, length + seq}, mask),
                    POSITION_IDS, TensorData.longs(new long[] {rows, seq}, positions),
                    NUM_LOGITS_TO_KEEP, TensorData.longs(new long[0], 1));
            Map<String, OnnxTensor> created = OrtTensors.of(env, data);
            try {
                Map<String, OnnxTensor> in = new HashMap<>(past);
                in.putAll(created);
                adapters.feed(decoder.getInputNames(), in);
                OrtSession.Result r = decoder.run(in);
                release();
                held = r;
                decoderPlacement.afterRun(decoder);
                past = presents(r);
                length += seq;
                logits = lastLogits(r);
            } finally {
                created.values().forEach(OnnxTensor::close);
            }
        }

        private Map<String, OnnxTensor> presents(OrtSession.Result r) {
            Map<String, OnnxTensor> out = new HashMap<>();
            for (int l = 0; l < config.text().numHiddenLayers(); l++) {
                for (String kind : List.of("key", "value")) {
                    out.put(pastName(l, kind), (OnnxTensor) r.get(presentName(l, kind)).orElseThrow());
                }
            }
            return out;
        }

        private float[][] lastLogits(OrtSession.Result r) {
            OnnxValue v = r.get(LOGITS).orElseThrow();
            float[] all = OrtTensors.floats(v);
            int vocab = all.length / rows; // one kept position per row
            float[][] out = new float[rows][];
            for (int i = 0; i < rows; i++) {
                out[i] = Arrays.copyOfRange(all, i * vocab, (i + 1) * vocab);
            }
            return out;
        }

        private void release() {
            if (held != null) {
                held.close();
                held = null;
            } else {
                past.values().forEach(OnnxTensor::close);
            }
        }

        @Override
        public void close() {
            release();
            past = new HashMap<>();
        }
    }

    @Override
    public void close() throws OrtException {
        adapters.close();
        try {
            decoder.close();
        } finally {
            vision.close();
            options.close();
            visionPlacement.discard();
            decoderPlacement.discard();
        }
    }
}
