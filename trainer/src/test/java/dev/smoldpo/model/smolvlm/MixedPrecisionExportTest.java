package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.hf.HfFormatException;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.SafetensorsWriter;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exports of the demo model at each precision: the weights file, the manifest, the FLOAT checkpoint and
 * optimizer, and a real float16 training step on the CPU (whose provider has float16 MatMul, unlike
 * bfloat16): gradients reach the FLOAT LoRA masters through the Casts, and AdamW updates them by
 * amounts a float16 copy could not hold.
 */
class MixedPrecisionExportTest {
    @TempDir
    static Path root;
    static Path modelDir;
    static Map<Precision, ArtifactFiles> exports = new HashMap<>();

    static SmolVlmExporter.Options options(Precision p) {
        return new SmolVlmExporter.Options("demo-" + p.configName(), new LoraConfig(4, 8, 0.0, LoraConfig.DEFAULT_TARGETS, false),
                DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3, p);
    }

    @BeforeAll
    static void export() throws Exception {
        modelDir = DemoModel.write(root.resolve("demo-model"), 7);
        for (Precision p : Precision.values()) {
            exports.put(p, SmolVlmExporter.export(modelDir, root.resolve("artifacts-" + p.configName()), options(p)));
        }
    }

    @Test
    void halfPrecisionWeightsFilesAreHalfTheSizeBarTheFloatNormParameters() throws Exception {
        ModelConfig config = ModelConfig.load(modelDir);
        long normBytes = config.expectedWeights().stream().filter(w -> w.name().contains("norm"))
                .mapToLong(w -> w.elementCount() * 4).sum();
        long fp32 = Files.size(exports.get(Precision.FP32).weights());
        long tensors = config.expectedWeights().size() + 8; // + the transposed copies of tied weights; 64-byte alignment each
        for (Precision p : List.of(Precision.BF16, Precision.FP16)) {
            long half = Files.size(exports.get(p).weights());
            long expected = normBytes + (fp32 - normBytes) / 2;
            System.out.printf("weights file: fp32 %,d bytes, %s %,d bytes (%.3f of fp32)%n", fp32, p.configName(), half,
                    (double) half / fp32);
            assertTrue(Math.abs(half - expected) <= 64 * tensors, p + ": " + half + " bytes, expected about " + expected);
        }
    }

    @Test
    void theManifestRecordsThePrecision() {
        for (Precision p : Precision.values()) {
            Manifest m = Manifest.read(exports.get(p).manifest());
            assertEquals(p.configName(), m.extra().get(SmolVlmExporter.PRECISION));
            m.parameters().forEach(t -> assertEquals("FLOAT", t.dtype(), t.name()));
        }
    }

    @Test
    void checkpointAndOptimizerAreTheFloat32OnesAtEveryPrecision() throws Exception {
        ArtifactFiles fp32 = exports.get(Precision.FP32);
        Checkpoint reference = CheckpointReader.read(fp32.checkpoint());
        for (Precision p : List.of(Precision.BF16, Precision.FP16)) {
            ArtifactFiles half = exports.get(p);
            Checkpoint c = CheckpointReader.read(half.checkpoint());
            assertEquals(reference.trainable(), c.trainable(), p + ": the same FLOAT LoRA tensors, bit for bit");
            c.trainable().forEach(t -> assertEquals(DType.FLOAT, t.dtype(), t.name()));
            assertArrayEquals(Files.readAllBytes(fp32.optimizer()), Files.readAllBytes(half.optimizer()),
                    p + ": the same float32 AdamW graph");
        }
    }

    @Test
    void aFloat16TrainingStepOnTheCpuUpdatesTheFloatMasters() throws Exception {
        float lr = 1e-5f;
        Checkpoint fp16 = trainTwoSteps(exports.get(Precision.FP16), lr, root.resolve("fp16-trained"));
        Checkpoint fp32 = trainTwoSteps(exports.get(Precision.FP32), lr, root.resolve("fp32-trained"));
        Checkpoint initial = CheckpointReader.read(exports.get(Precision.FP16).checkpoint());
        long elements = 0;
        long moved = 0;
        long belowHalfUlp = 0;
        long sameDirection = 0;
        Map<String, CheckpointTensor> fp16ByName = byName(fp16);
        Map<String, CheckpointTensor> fp32ByName = byName(fp32);
        assertEquals(byName(initial).keySet(), fp16ByName.keySet());
        for (CheckpointTensor before : initial.trainable()) {
            CheckpointTensor after = fp16ByName.get(before.name());
            CheckpointTensor reference = fp32ByName.get(before.name());
            assertEquals(DType.FLOAT, after.dtype(), "saved as FLOAT: " + after.name());
            float[] a0 = floats(before);
            float[] a1 = floats(after);
            float[] r1 = floats(reference);
            for (int k = 0; k < a0.length; k++) {
                float delta = a1[k] - a0[k];
                float referenceDelta = r1[k] - a0[k];
                elements++;
                moved += delta != 0 ? 1 : 0;
                // a step a float16 master would have rounded away: less than half its spacing at the value
                belowHalfUlp += delta != 0 && Math.abs(delta) < halfUlpOfFloat16(a0[k]) ? 1 : 0;
                sameDirection += Math.signum(delta) == Math.signum(referenceDelta) ? 1 : 0;
            }
        }
        System.out.printf("fp16 CPU training, 2 AdamW steps at lr %g: %,d of %,d LoRA values moved, %,d by less than half a "
                + "float16 spacing; %,d moved the way the fp32 run moved them%n", lr, moved, elements, belowHalfUlp, sameDirection);
        assertTrue(moved > 0.8 * elements, "the LoRA tensors were updated: " + moved + " of " + elements);
        assertTrue(belowHalfUlp > 0.3 * elements, "updates finer than float16 survive: " + belowHalfUlp + " of " + elements);
        assertTrue(sameDirection > 0.95 * elements, "the fp16 graph's gradients agree with the fp32 graph's in sign: "
                + sameDirection + " of " + elements);
    }

    /** ORT saves the parameters in its own order. */
    private static Map<String, CheckpointTensor> byName(Checkpoint c) {
        Map<String, CheckpointTensor> m = new HashMap<>();
        c.trainable().forEach(t -> m.put(t.name(), t));
        return m;
    }

    private static double halfUlpOfFloat16(float v) {
        float a = Math.abs(v);
        int exponent = a < 0x1p-14f ? -14 : Math.getExponent(a); // float16 subnormals are spaced like its smallest normals
        return Math.scalb(1.0, exponent - 10) / 2;
    }

    private static float[] floats(CheckpointTensor t) {
        float[] v = new float[t.rawLittleEndian().remaining() / 4];
        t.rawLittleEndian().duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    /** Two trainStep + optimizerStep rounds over the demo pairs on the CPU; the saved checkpoint. */
    private static Checkpoint trainTwoSteps(ArtifactFiles files, float lr, Path saved) throws Exception {
        ModelConfig config = ModelConfig.load(files.dir());
        DemoFixtureInputs in = DemoFixtureInputs.of(config);
        try (TrainingSession s = TrainingSession.open(files, files.checkpoint(), 1)) {
            s.ort().setLearningRate(lr);
            for (int step = 0; step < 2; step++) {
                Map<String, OnnxTensor> feed = OrtTensors.of(s.env(), in.tensors());
                try {
                    s.ort().lazyResetGrad();
                    assertTrue(Float.isFinite(s.trainStep(feed).get("loss")[0]));
                    s.ort().optimizerStep();
                } finally {
                    feed.values().forEach(OnnxTensor::close);
                }
            }
            s.ort().saveCheckpoint(saved, false);
        }
        return CheckpointReader.read(saved);
    }

    @Test
    void aWeightBeyondFloat16sRangeFailsTheFp16ExportNamingIt() throws Exception {
        Path big = root.resolve("big-weight-model");
        try (Stream<Path> files = Files.list(modelDir)) {
            Files.createDirectories(big);
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, big.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        String victim = "model.text_model.layers.0.mlp.up_proj.weight";
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsFile f = SafetensorsFile.open(modelDir.resolve("model.safetensors"))) {
            for (String name : f.names()) {
                float[] v = f.readFloat32(name);
                if (name.equals(victim)) {
                    v[5] = 70000f;
                }
                w.add(name, SafetensorsDtype.F32, f.info(name).shape(), v);
            }
        }
        w.write(big.resolve("model.safetensors"));
        HfFormatException e = assertThrows(HfFormatException.class,
                () -> SmolVlmExporter.export(big, root.resolve("big-fp16"), options(Precision.FP16)));
        assertTrue(e.getMessage().contains("tensor '" + victim + "' element") && e.getMessage().contains("70000")
                && e.getMessage().contains("outside float16's range") && e.getMessage().contains("--precision bf16"),
                e.getMessage());
        assertTrue(!Files.exists(root.resolve("big-fp16")), "nothing left behind");
        SmolVlmExporter.export(big, root.resolve("big-bf16"), options(Precision.BF16)); // bfloat16 has float32's range
    }

    /** The demo pairs of {@link DemoFixture} with DPO inputs, as fed to the training graph. */
    private record DemoFixtureInputs(Map<String, TensorData> tensors) {
        static DemoFixtureInputs of(ModelConfig config) {
            List<DpoCollator.Pair> pairs = DemoFixture.pairs(config, 23);
            Map<String, TensorData> in = new HashMap<>(new DpoCollator(config).collate(pairs, DpoLayout.SHARED_PREFIX));
            in.putAll(DemoFixture.dpoInputs(pairs.size(), 0.1f, new float[] {-40, -40}, new float[] {-30, -30}));
            return new DemoFixtureInputs(in);
        }
    }
}
