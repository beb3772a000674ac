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
 * The input contract of a {@code decoder_model_merged} graph, as transformers.js reads it from the session's
 * metadata: the inputs it must have (checked against config.json when opened), the optional ones it may
 * declare ({@code position_ids}, {@code num_logits_to_keep}, {@code use_cache_branch}), and the element type
 * (float32 or float16) of its embeddings and key/value cache. Builds each run's feed and the cache tensors.
 */
final class DecoderInputs {
    private final OrtEnvironment env;
    private final Path file;
    private final Set<String> names;
    private final int hidden;
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final OnnxJavaType embedsType;
    private final OnnxJavaType cacheType;

    DecoderInputs(OrtSession decoder, Path file, ModelConfig config, OrtEnvironment env) throws OrtException {
        this.env = env;
        this.file = file;
        this.names = decoder.getInputNames();
        this.hidden = config.text().hiddenSize();
        this.layers = config.text().numHiddenLayers();
        this.kvHeads = config.text().numKeyValueHeads();
        this.headDim = config.text().headDim();
        List<String> missing = new ArrayList<>();
        for (String name : List.of("inputs_embeds", "attention_mask")) {
            if (!names.contains(name)) {
                missing.add(name);
            }
        }
        for (int i = 0; i < layers; i++) {
            for (String kind : List.of("key", "value")) {
                if (!names.contains(pastName(i, kind))) {
                    missing.add(pastName(i, kind));
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new InferenceException(file + " lacks the inputs " + missing + " (config.json has " + layers + " layers)");
        }
        embedsType = floatType(decoder.getInputInfo().get("inputs_embeds"), "inputs_embeds");
        NodeInfo past = decoder.getInputInfo().get(pastName(0, "key"));
        OnnxJavaType cache = OnnxJavaType.FLOAT;
        if (past.getInfo() instanceof TensorInfo t) {
            cache = floatType(past, pastName(0, "key"));
            long[] shape = t.getShape();
            if (shape.length != 4 || shape[1] > 0 && shape[1] != kvHeads || shape[3] > 0 && shape[3] != headDim) {
                throw new InferenceException(file + ": past_key_values.0.key has shape " + Arrays.toString(shape)
                        + ", config.json says [batch, " + kvHeads + ", past, " + headDim + "]");
            }
        }
        cacheType = cache;
    }

    /** FLOAT or FLOAT16: the element type the decoder declares for one of its inputs. */
    private OnnxJavaType floatType(NodeInfo input, String name) {
        OnnxJavaType t = input.getInfo() instanceof TensorInfo info ? info.type : null;
        if (t != OnnxJavaType.FLOAT && t != OnnxJavaType.FLOAT16) {
            throw new InferenceException(file + ": input " + name + " is " + t + "; float32 and float16 are supported");
        }
        return t;
    }

    /**
     * Adds to {@code in} the non-cache inputs of one run: {@code len} new embeddings after {@code pastLen}
     * cached positions, keeping {@code keep} logits. Returns the tensors it created, for the caller to close.
     */
    List<OnnxTensor> feed(Map<String, OnnxTensor> in, float[] embeds, int len, int pastLen, int keep) throws OrtException {
        List<OnnxTensor> created = new ArrayList<>();
        try {
            long[] embedsShape = {1, len, hidden};
            created.add(put(in, "inputs_embeds", embedsType == OnnxJavaType.FLOAT16
                    ? OnnxTensor.createTensor(env, HalfFloats.encode(embeds, len * hidden), embedsShape, OnnxJavaType.FLOAT16)
                    : OnnxTensor.createTensor(env, FloatBuffer.wrap(embeds, 0, len * hidden), embedsShape)));
            long[] mask = new long[pastLen + len];
            Arrays.fill(mask, 1);
            created.add(put(in, "attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, mask.length})));
            if (names.contains("position_ids")) {
                long[] pos = new long[len];
                for (int i = 0; i < len; i++) {
                    pos[i] = pastLen + i;
                }
                created.add(put(in, "position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {1, len})));
            }
            if (names.contains("num_logits_to_keep")) {
                created.add(put(in, "num_logits_to_keep", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {keep}),
                        new long[0])));
            }
            if (names.contains("use_cache_branch")) {
                created.add(put(in, "use_cache_branch", OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(1)
                        .put((byte) (pastLen > 0 ? 1 : 0)).flip(), new long[] {1}, OnnxJavaType.BOOL)));
            }
            return created;
        } catch (OrtException | RuntimeException e) {
            created.forEach(OnnxTensor::close);
            throw e;
        }
    }

    private static OnnxTensor put(Map<String, OnnxTensor> in, String name, OnnxTensor t) {
        in.put(name, t);
        return t;
    }

    /** Empty caches [1, kv, 0, head_dim] for every layer, of the decoder's cache type. */
    Map<String, OnnxTensor> emptyPast() throws OrtException {
        Map<String, OnnxTensor> past = new HashMap<>();
        try {
            for (int i = 0; i < layers; i++) {
                for (String kind : List.of("key", "value")) {
                    past.put(pastName(i, kind), OnnxTensor.createTensor(env, ByteBuffer.allocateDirect(0),
                            new long[] {1, kvHeads, 0, headDim}, cacheType));
                }
            }
        } catch (OrtException | RuntimeException e) {
            past.values().forEach(OnnxTensor::close);
            throw e;
        }
        return past;
    }

    /** The present.* outputs of {@code r} under the past_key_values.* input names (owned by {@code r}). */
    Map<String, OnnxTensor> presents(OrtSession.Result r) {
        Map<String, OnnxTensor> past = new HashMap<>();
        for (int i = 0; i < layers; i++) {
            for (String kind : List.of("key", "value")) {
                String name = "present." + i + "." + kind;
                OnnxValue v = r.get(name).orElseThrow(() -> new InferenceException(file + " has no output " + name));
                past.put(pastName(i, kind), (OnnxTensor) v);
            }
        }
        return past;
    }

    private static String pastName(int layer, String kind) {
        return "past_key_values." + layer + "." + kind;
    }
}
