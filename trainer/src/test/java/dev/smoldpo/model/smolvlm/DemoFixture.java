package dev.smoldpo.model.smolvlm;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Parameter;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** A demo checkpoint, its export, and synthetic pairs with images, for the SmolVLM graph tests. */
final class DemoFixture {
    final Path modelDir;
    final ArtifactFiles files;
    final ModelConfig config;
    final SmolVlmExporter.Options options;

    DemoFixture(Path root, SmolVlmExporter.Options options) throws IOException {
        this.modelDir = root.resolve("demo-model");
        DemoModel.write(modelDir, 7); // with its tokenizer and chat template: the export checks them
        this.options = options;
        this.files = SmolVlmExporter.export(modelDir, root.resolve("artifacts"), options);
        this.config = ModelConfig.load(modelDir);
    }

    static SmolVlmExporter.Options options(double dropout) {
        return new SmolVlmExporter.Options("demo", new LoraConfig(4, 8, dropout, LoraConfig.DEFAULT_TARGETS, false),
                DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3);
    }

    /** Two pairs: one single-tile image, one 2x2 + global image; completions of different lengths. */
    List<DpoCollator.Pair> pairs(long seed) {
        return pairs(config, seed);
    }

    /** {@link #pairs(long)} for a demo-shaped {@code config}. */
    static List<DpoCollator.Pair> pairs(ModelConfig config, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<DpoCollator.Pair> pairs = new ArrayList<>();
        for (int tiles : new int[] {1, 5}) {
            pairs.add(new DpoCollator.Pair(prompt(config, r, tiles), tokens(r, 3 + r.nextInt(4)), tokens(r, 2 + r.nextInt(5)),
                    image(config, r, tiles)));
        }
        return pairs;
    }

    private static long[] prompt(ModelConfig config, SplittableRandom r, int tiles) {
        List<Long> ids = new ArrayList<>();
        ids.add((long) DemoSpec.IM_START_ID);
        for (int i = 0; i < 3; i++) {
            ids.add(regular(r));
        }
        ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
        for (int t = 0; t < tiles; t++) {
            for (int k = 0; k < config.imageSeqLen(); k++) {
                ids.add((long) DemoSpec.IMAGE_TOKEN_ID);
            }
            ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
        }
        for (int i = 0; i < 4; i++) {
            ids.add(regular(r));
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    private static long[] tokens(SplittableRandom r, int n) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i == n - 1 ? DemoSpec.END_OF_UTTERANCE_ID : regular(r);
        }
        return ids;
    }

    private static long regular(SplittableRandom r) {
        return DemoSpec.FIRST_REGULAR_ID + r.nextInt(DemoSpec.VOCAB_SIZE - DemoSpec.FIRST_REGULAR_ID);
    }

    private static DpoCollator.Tiles image(ModelConfig config, SplittableRandom r, int tiles) {
        int s = config.vision().imageSize();
        float[] px = new float[tiles * 3 * s * s];
        for (int i = 0; i < px.length; i++) {
            px[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return new DpoCollator.Tiles(tiles, px, null);
    }

    /** The LoRA tensors of the export with every B replaced by random values (so every A has a gradient too). */
    Map<String, TensorData> loraWithRandomB(SmolVlmDpoModel model, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, TensorData> out = new java.util.LinkedHashMap<>();
        for (Parameter p : model.trainableParameters()) {
            float[] v = p.initial().toFloatArray();
            if (p.name().contains("lora_B")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((r.nextDouble() - 0.5) * 0.2);
                }
            }
            out.put(p.name(), TensorData.floats(p.initial().dims(), v));
        }
        return out;
    }

    Map<String, TensorData> initialLora(SmolVlmDpoModel model) {
        Map<String, TensorData> out = new java.util.LinkedHashMap<>();
        for (Parameter p : model.trainableParameters()) {
            out.put(p.name(), p.initial());
        }
        return out;
    }

    static Map<String, TensorData> dpoInputs(int pairs, float beta, float[] refChosen, float[] refRejected) {
        Map<String, TensorData> m = new HashMap<>();
        m.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, beta));
        float[] weights = new float[pairs];
        java.util.Arrays.fill(weights, 1f / pairs);
        m.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {pairs}, weights));
        m.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {pairs}, refChosen));
        m.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {pairs}, refRejected));
        return m;
    }

    /** Runs a plain inference session on {@code model} and returns the float outputs by name. */
    static Map<String, float[]> run(OrtSession session, Map<String, TensorData> inputs) throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        Map<String, TensorData> fed = new HashMap<>();
        for (Map.Entry<String, TensorData> e : inputs.entrySet()) {
            if (session.getInputNames().contains(e.getKey())) {
                fed.put(e.getKey(), e.getValue());
            }
        }
        Map<String, OnnxTensor> tensors = OrtTensors.of(env, fed);
        try (OrtSession.Result r = session.run(tensors)) {
            Map<String, float[]> out = new HashMap<>();
            for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
                out.put(e.getKey(), OrtTensors.floats(e.getValue()));
            }
            return out;
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    static OrtSession session(Path model) throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(1);
            return env.createSession(model.toString(), o);
        }
    }
}
