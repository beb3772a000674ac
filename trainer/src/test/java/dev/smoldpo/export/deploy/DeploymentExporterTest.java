package dev.smoldpo.export.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.model.smolvlm.reference.SmolVlmReference;
import dev.smoldpo.onnx.ModelSummary;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merged deployment folder: transformers.js' layout and names, and logits equal to the
 * training-side graphs and to the independent reference with the same adapters.
 */
class DeploymentExporterTest {
    @TempDir
    static Path root;
    static Path modelDir;
    static ArtifactFiles artifacts;
    static Path trained;
    static Path deploy;
    static ModelConfig config;

    @BeforeAll
    static void export() throws Exception {
        modelDir = DemoModel.write(root.resolve("model"), 42);
        artifacts = SmolVlmExporter.export(modelDir, root.resolve("artifacts"), new SmolVlmExporter.Options("demo",
                new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        config = ModelConfig.load(modelDir);
        trained = randomAdapters(artifacts.checkpoint(), root.resolve("trained.ckpt"));
        deploy = DeploymentExporter.export(artifacts.dir(), trained, root.resolve("deploy"));
    }

    /** "Trained" adapters: the initial checkpoint with random lora_B, so the merge changes every adapted weight. */
    static Path randomAdapters(Path initialCheckpoint, Path out) throws Exception {
        Checkpoint initial = CheckpointReader.read(initialCheckpoint);
        SplittableRandom r = new SplittableRandom(4);
        List<CheckpointTensor> tensors = new ArrayList<>();
        for (CheckpointTensor t : initial.trainable()) {
            float[] v = t.toFloatArray();
            if (t.name().endsWith("lora_B.weight")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((r.nextDouble() - 0.5) * 0.3);
                }
            }
            tensors.add(CheckpointTensor.ofFloats(t.name(), t.dims(), v));
        }
        CheckpointWriter.write(Checkpoint.of(tensors, List.of()), out);
        return out;
    }

    @Test
    void layoutAndNamesFollowTheTransformersJsContract() {
        ModelSummary vision = ModelSummary.read(deploy.resolve("onnx/vision_encoder.onnx"));
        assertEquals(List.of("pixel_values", "pixel_attention_mask"), vision.inputNames());
        assertEquals(List.of("image_features"), vision.outputNames());
        assertEquals(List.of("input_ids"), ModelSummary.read(deploy.resolve("onnx/embed_tokens.onnx")).inputNames());
        assertEquals(List.of("inputs_embeds"), ModelSummary.read(deploy.resolve("onnx/embed_tokens.onnx")).outputNames());
        ModelSummary decoder = ModelSummary.read(deploy.resolve("onnx/decoder_model_merged.onnx"));
        List<String> in = new ArrayList<>(List.of("inputs_embeds", "attention_mask", "position_ids"));
        List<String> out = new ArrayList<>(List.of("logits"));
        for (int l = 0; l < DemoSpec.TEXT_LAYERS; l++) {
            in.add("past_key_values." + l + ".key");
            in.add("past_key_values." + l + ".value");
            out.add("present." + l + ".key");
            out.add("present." + l + ".value");
        }
        in.add("num_logits_to_keep");
        assertEquals(in, decoder.inputNames());
        assertEquals(out, decoder.outputNames());
        assertEquals(List.of("decoder_model_merged.onnx_data"), decoder.externalDataFiles());
        for (String f : List.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "preprocessor_config.json", "processor_config.json")) {
            assertTrue(java.nio.file.Files.exists(deploy.resolve(f)), f);
        }
    }

    /** A prompt with one tile's image tokens and a completion, and the tile. */
    private static long[] ids(SplittableRandom r, int completion) {
        List<Long> ids = new ArrayList<>(List.of((long) DemoSpec.IM_START_ID, 50L, 60L, (long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID));
        for (int i = 0; i < config.imageSeqLen(); i++) {
            ids.add((long) DemoSpec.IMAGE_TOKEN_ID);
        }
        ids.add((long) DemoSpec.FAKE_TOKEN_AROUND_IMAGE_ID);
        for (int i = 0; i < 5 + completion; i++) {
            ids.add(DemoSpec.FIRST_REGULAR_ID + (long) r.nextInt(400));
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    @Test
    void mergedLogitsEqualTheTrainingGraphsAndTheReference() throws Exception {
        SplittableRandom r = new SplittableRandom(8);
        long[] ids = ids(r, 6);
        int s = config.vision().imageSize();
        float[] tile = new float[3 * s * s];
        for (int i = 0; i < tile.length; i++) {
            tile[i] = (float) (r.nextDouble() * 2 - 1);
        }
        double[][] logits = deploymentLogits(ids, tile);

        // 1. the eval graph (training side) with the same adapters: completion log-probs
        int promptLength = ids.length - 6;
        long[] prompt = java.util.Arrays.copyOf(ids, promptLength);
        long[] completion = java.util.Arrays.copyOfRange(ids, promptLength, ids.length);
        double deployLogp = SmolVlmReference.completionLogProb(logits, ids, promptLength, ids.length);
        Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(List.of(new DpoCollator.Pair(prompt,
                completion, new long[] {completion[0], 7L}, new DpoCollator.Tiles(1, tile, null))), DpoLayout.CONCATENATED));
        in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, 0.1f));
        in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {1}, 1f));
        in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {1}, 0f));
        in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {1}, 0f));
        for (CheckpointTensor t : CheckpointReader.read(trained).trainable()) {
            in.put(t.name(), TensorData.floats(t.dims(), t.toFloatArray()));
        }
        OrtEnvironment env = OrtRuntime.environment();
        float evalLogp;
        try (OrtSession eval = env.createSession(artifacts.eval().toString());
             var result = eval.run(OrtTensors.of(env, in))) {
            evalLogp = OrtTensors.floats(result.get(SmolVlmInputs.CHOSEN_LOGPS).orElseThrow())[0];
        }
        assertEquals(evalLogp, deployLogp, 1e-4 * Math.abs(evalLogp), "completion log-prob: merged deployment vs eval graph");

        // 2. the independent double-precision reference, adapters applied as W + scale B A
        Map<String, SmolVlmReference.Lora> adapters = new HashMap<>();
        Checkpoint ck = CheckpointReader.read(trained);
        for (CheckpointTensor t : ck.trainable()) {
            if (t.name().endsWith(".lora_A.weight")) {
                String module = t.name().substring(0, t.name().length() - ".lora_A.weight".length());
                adapters.put(module, new SmolVlmReference.Lora(t.toFloatArray(), ck.parameter(module + ".lora_B.weight").toFloatArray(),
                        (int) t.dims()[0], 8.0 / 4));
            }
        }
        double[][] expected = SmolVlmReference.load(modelDir).withLora(adapters)
                .forward(SmolVlmReference.Input.of(ids, new float[][] {tile}, null)).logits();
        double worst = 0;
        for (int t = 0; t < ids.length; t++) {
            double scale = 0;
            for (double v : expected[t]) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int v = 0; v < expected[t].length; v++) {
                worst = Math.max(worst, Math.abs(expected[t][v] - logits[t][v]) / scale);
            }
        }
        System.out.printf("merged deployment logits vs reference: worst relative difference %.2e%n", worst);
        assertTrue(worst <= 1e-4, "logits differ from the reference by " + worst);
    }

    /** Logits [T, V] of a full forward through the three deployment sessions (no cache). */
    static double[][] deploymentLogits(long[] ids, float[] tile) throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        int s = config.vision().imageSize();
        int d = config.text().hiddenSize();
        float[] features;
        try (OrtSession vision = env.createSession(deploy.resolve("onnx/vision_encoder.onnx").toString());
             OnnxTensor px = OnnxTensor.createTensor(env, FloatBuffer.wrap(tile), new long[] {1, 1, 3, s, s});
             OnnxTensor mask = OrtTensors.of(env, TensorData.bools(new long[] {1, 1, s, s}, allTrue(s * s)));
             var r = vision.run(Map.of("pixel_values", px, "pixel_attention_mask", mask))) {
            features = OrtTensors.floats(r.get("image_features").orElseThrow());
        }
        float[] embeds;
        try (OrtSession embed = env.createSession(deploy.resolve("onnx/embed_tokens.onnx").toString());
             OnnxTensor in = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {1, ids.length});
             var r = embed.run(Map.of("input_ids", in))) {
            embeds = OrtTensors.floats(r.get("inputs_embeds").orElseThrow());
        }
        int k = 0;
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] == config.imageTokenId()) {
                System.arraycopy(features, k++ * d, embeds, t * d, d);
            }
        }
        assertEquals(features.length / d, k, "every image feature row is used");
        Map<String, OnnxTensor> feed = new HashMap<>();
        try (OrtSession decoder = env.createSession(deploy.resolve("onnx/decoder_model_merged.onnx").toString())) {
            feed.put("inputs_embeds", OnnxTensor.createTensor(env, FloatBuffer.wrap(embeds), new long[] {1, ids.length, d}));
            long[] ones = new long[ids.length];
            long[] positions = new long[ids.length];
            for (int i = 0; i < ids.length; i++) {
                ones[i] = 1;
                positions[i] = i;
            }
            feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(ones), new long[] {1, ids.length}));
            feed.put("position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {1, ids.length}));
            int kv = config.text().numKeyValueHeads();
            int hd = config.text().headDim();
            for (int l = 0; l < config.text().numHiddenLayers(); l++) {
                for (String part : List.of("key", "value")) {
                    feed.put("past_key_values." + l + "." + part, OnnxTensor.createTensor(env,
                            ByteBuffer.allocateDirect(0).asFloatBuffer(), new long[] {1, kv, 0, hd}));
                }
            }
            feed.put("num_logits_to_keep", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {0}), new long[0]));
            try (var r = decoder.run(feed)) {
                float[] flat = OrtTensors.floats(r.get("logits").orElseThrow());
                int v = flat.length / ids.length;
                double[][] out = new double[ids.length][v];
                for (int t = 0; t < ids.length; t++) {
                    for (int j = 0; j < v; j++) {
                        out[t][j] = flat[t * v + j];
                    }
                }
                return out;
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    private static boolean[] allTrue(int n) {
        boolean[] b = new boolean[n];
        java.util.Arrays.fill(b, true);
        return b;
    }
}
