package dev.smoldpo.export.peft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.TensorInfo;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.lora.LoraTargets;
import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeftAdapterExporterTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void exportsPeftNamesShapesAndValuesForSmolVlm256m() throws Exception {
        LoraConfig lora = new LoraConfig(8, 16, 0.05, LoraConfig.DEFAULT_TARGETS, false);
        List<LoraTargets.Target> targets = LoraTargets.select(smolVlm256mWeights(), lora);
        Map<String, float[]> values = randomAdapters(targets, 42);
        Path artifacts = artifacts(lora, targets, "/models/SmolVLM-256M-Instruct");
        Path ckpt = checkpoint(values, List.of());

        Path out = tmp.resolve("adapter");
        assertEquals(out, PeftAdapterExporter.export(artifacts, ckpt, out, null));

        // names and shapes: exactly PEFT's, as in the golden list
        List<String> got = new ArrayList<>();
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            for (TensorInfo t : st.tensors().values()) {
                assertEquals("F32", t.dtype(), t.name());
                got.add(t.name() + " " + Arrays.toString(t.shape()));
            }
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
        List<String> golden;
        try (InputStream in = getClass().getResourceAsStream("/dev/smoldpo/model/lora/peft-smolvlm-256m-default-targets-r8.txt")) {
            golden = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        assertEquals(golden.size(), got.size());
        assertEquals(new TreeSet<>(golden), new TreeSet<>(got));

        // values: a bit-identical round trip
        Map<String, float[]> back = PeftAdapterExporter.read(out);
        assertEquals(new TreeSet<>(values.keySet()), new TreeSet<>(back.keySet()));
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            assertArrayEquals(bits(e.getValue()), bits(back.get(e.getKey())), e.getKey());
        }

        // adapter_config.json
        JsonNode c = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("LORA", c.get("peft_type").asText());
        assertTrue(c.get("task_type").isNull());
        assertEquals(8, c.get("r").asInt());
        assertTrue(c.get("r").isIntegralNumber());
        assertEquals(16, c.get("lora_alpha").asInt());
        assertTrue(c.get("lora_alpha").isIntegralNumber());
        assertEquals(0.05, c.get("lora_dropout").asDouble());
        assertTrue(c.get("target_modules").isArray());
        List<String> targetModules = new ArrayList<>();
        c.get("target_modules").forEach(n -> targetModules.add(n.asText()));
        assertEquals(LoraConfig.DEFAULT_TARGETS, targetModules);
        assertEquals("none", c.get("bias").asText());
        assertFalse(c.get("fan_in_fan_out").asBoolean());
        assertTrue(c.get("fan_in_fan_out").isBoolean());
        assertTrue(c.get("init_lora_weights").asBoolean());
        assertTrue(c.get("modules_to_save").isNull());
        assertTrue(c.get("inference_mode").asBoolean());
        assertEquals("/models/SmolVLM-256M-Instruct", c.get("base_model_name_or_path").asText());
        assertTrue(c.get("revision").isNull());
        assertFalse(c.get("use_rslora").asBoolean());
        assertFalse(c.get("use_dora").asBoolean());
        assertTrue(c.get("layers_to_transform").isNull());
        assertTrue(c.get("rank_pattern").isObject() && c.get("rank_pattern").isEmpty());
        assertTrue(c.get("alpha_pattern").isObject() && c.get("alpha_pattern").isEmpty());
        assertFalse(c.has("exclude_modules"));

        // nothing but the two files, no staging leftovers next to it
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of("adapter_config.json", "adapter_model.safetensors"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        try (Stream<Path> files = Files.list(tmp)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith(".adapter")));
        }
    }

    @Test
    void textOnlyAdaptersGetARegexThatSelectsExactlyTheTextModules() throws Exception {
        LoraConfig lora = new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, true);
        Map<String, long[]> weights = smolVlm256mWeights();
        List<LoraTargets.Target> targets = LoraTargets.select(weights, lora);
        Map<String, float[]> values = randomAdapters(targets, 7);
        Path artifacts = artifacts(lora, targets, null);
        Path out = tmp.resolve("text-only");
        PeftAdapterExporter.export(artifacts, checkpoint(values, List.of()), out, "HuggingFaceTB/SmolVLM-256M-Instruct");

        JsonNode c = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("HuggingFaceTB/SmolVLM-256M-Instruct", c.get("base_model_name_or_path").asText());
        assertTrue(c.get("target_modules").isTextual(), c.toString());
        String regex = c.get("target_modules").asText();
        assertEquals(".*text_model\\.(?:.*\\.)?(?:q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)", regex);
        // PEFT applies re.fullmatch to every module name; the modules it would adapt are exactly the exported ones
        Pattern p = Pattern.compile(regex);
        TreeSet<String> selected = new TreeSet<>();
        for (String name : weights.keySet()) {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : name;
            if (p.matcher(module).matches()) {
                selected.add(module);
            }
        }
        TreeSet<String> expected = new TreeSet<>(targets.stream().map(LoraTargets.Target::module).toList());
        assertEquals(expected, selected);
        assertEquals(30 * 7, selected.size());

        Map<String, float[]> back = PeftAdapterExporter.read(out);
        assertEquals(2 * 30 * 7, back.size());
        assertTrue(back.keySet().stream().allMatch(k -> k.startsWith("model.text_model.")));
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            assertArrayEquals(bits(e.getValue()), bits(back.get(e.getKey())), e.getKey());
        }
    }

    @Test
    void reExportReplacesTheFilesOfAnExistingFolder() throws Exception {
        LoraConfig lora = new LoraConfig(4, 8, 0.0, List.of("q_proj"), true);
        List<LoraTargets.Target> targets = LoraTargets.select(smolVlm256mWeights(), lora);
        Path artifacts = artifacts(lora, targets, null);
        Path out = tmp.resolve("again");
        PeftAdapterExporter.export(artifacts, checkpoint(randomAdapters(targets, 1), List.of()), out, null);
        assertTrue(JSON.readTree(out.resolve("adapter_config.json").toFile()).get("base_model_name_or_path").isNull());
        Map<String, float[]> second = randomAdapters(targets, 2);
        PeftAdapterExporter.export(artifacts, checkpoint(second, List.of()), out, null);
        Map<String, float[]> back = PeftAdapterExporter.read(out);
        for (Map.Entry<String, float[]> e : second.entrySet()) {
            assertArrayEquals(bits(e.getValue()), bits(back.get(e.getKey())), e.getKey());
        }
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(2, files.count());
        }
    }

    @Test
    void aCheckpointWithoutLoraTensorsIsAClearError() throws Exception {
        LoraConfig lora = LoraConfig.defaults(8, 8);
        Path artifacts = artifacts(lora, LoraTargets.select(smolVlm256mWeights(), lora), null);
        Path ckpt = checkpoint(Map.of(), List.of(CheckpointTensor.ofFloats("lm_head.weight", new long[] {2, 2}, 1, 2, 3, 4)));
        Path out = tmp.resolve("none");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PeftAdapterExporter.export(artifacts, ckpt, out, null));
        assertTrue(e.getMessage().contains("holds no LoRA tensors"), e.getMessage());
        assertTrue(e.getMessage().contains(ckpt.toString()), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void aMissingManifestIsAClearError() throws Exception {
        Path artifacts = Files.createDirectories(tmp.resolve("empty-artifacts"));
        Path ckpt = checkpoint(Map.of("m.q_proj.lora_A.weight", new float[] {1}, "m.q_proj.lora_B.weight", new float[] {2}),
                List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PeftAdapterExporter.export(artifacts, ckpt, tmp.resolve("x"), null));
        assertTrue(e.getMessage().contains("no manifest.json in " + artifacts), e.getMessage());
    }

    @Test
    void adaptersTheManifestDoesNotListAreAnError() throws Exception {
        LoraConfig lora = new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, true);
        Map<String, long[]> weights = smolVlm256mWeights();
        Path artifacts = artifacts(lora, LoraTargets.select(weights, lora), null);
        // a vision-tower adapter in a text-only run: PEFT would never load it
        List<LoraTargets.Target> all = LoraTargets.select(weights, LoraConfig.defaults(8, 8));
        Path ckpt = checkpoint(randomAdapters(all, 3), List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PeftAdapterExporter.export(artifacts, ckpt, tmp.resolve("y"), null));
        assertTrue(e.getMessage().contains("vision_model"), e.getMessage());
    }

    // ---- fixtures

    /** SmolVLM-256M-Instruct's weights (HF names → shapes) from the real config.json in ../shared/models. */
    static Map<String, long[]> smolVlm256mWeights() throws IOException {
        ModelConfig config = ModelConfig.load(SharedModels.smolVlmConfig());
        Map<String, long[]> w = new LinkedHashMap<>();
        for (ModelConfig.WeightSpec spec : config.expectedWeights()) {
            w.put(spec.name(), spec.shape());
        }
        return w;
    }

    private static Map<String, float[]> randomAdapters(List<LoraTargets.Target> targets, long seed) {
        Random rnd = new Random(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (LoraTargets.Target t : targets) {
            out.put(t.loraA(), random(rnd, t.loraAShape()));
            out.put(t.loraB(), random(rnd, t.loraBShape()));
        }
        return out;
    }

    private static float[] random(Random rnd, long[] shape) {
        float[] v = new float[Math.toIntExact(shape[0] * shape[1])];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        v[0] = -0.0f; // signs of zero must survive too
        return v;
    }

    /** Writes a checkpoint holding {@code lora} (2-D, shapes from the names' r) and {@code otherTrainable}. */
    private Path checkpoint(Map<String, float[]> lora, List<CheckpointTensor> otherTrainable) throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (LoraTargets.Target t : LoraTargets.select(smolVlm256mWeights(), LoraConfig.defaults(8, 8))) {
            shapes.put(t.module(), new long[] {t.inFeatures(), t.outFeatures()});
        }
        List<CheckpointTensor> trainable = new ArrayList<>(otherTrainable);
        for (Map.Entry<String, float[]> e : lora.entrySet()) {
            String name = e.getKey();
            boolean isA = name.endsWith(".lora_A.weight");
            String module = name.substring(0, name.length() - ".lora_A.weight".length());
            long[] inOut = shapes.getOrDefault(module, new long[] {1, 1});
            long r = e.getValue().length / (isA ? inOut[0] : inOut[1]);
            long[] dims = isA ? new long[] {r, inOut[0]} : new long[] {inOut[1], r};
            trainable.add(CheckpointTensor.ofFloats(name, dims, e.getValue()));
        }
        Path file = Files.createTempFile(tmp, "checkpoint", ".ckpt");
        CheckpointWriter.write(Checkpoint.of(trainable, List.of()), file);
        return file;
    }

    /** An artifacts folder with a manifest.json like SmolVlmExporter's (only the fields the export reads). */
    private Path artifacts(LoraConfig lora, List<LoraTargets.Target> targets, String sourcePath) throws IOException {
        Path dir = Files.createTempDirectory(tmp, "artifacts");
        Map<String, Object> loraMap = new LinkedHashMap<>();
        loraMap.put("r", lora.r());
        loraMap.put("lora_alpha", lora.alpha());
        loraMap.put("lora_dropout", lora.dropout());
        loraMap.put("target_modules", lora.targetModules());
        loraMap.put("text_only", lora.textOnly());
        loraMap.put("init_seed", 1234);
        loraMap.put("adapted_modules", targets.stream().map(LoraTargets.Target::module).toList());
        Map<String, Object> extra = new LinkedHashMap<>();
        if (sourcePath != null) {
            extra.put("source", Map.of("path", sourcePath, "config_sha256", "0", "weights_sha256", "0"));
        }
        extra.put("lora", loraMap);
        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("formatVersion", 1);
        manifest.put("name", "smolvlm-dpo");
        manifest.put("extra", extra);
        JSON.writeValue(dir.resolve("manifest.json").toFile(), manifest);
        return dir;
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }
}
