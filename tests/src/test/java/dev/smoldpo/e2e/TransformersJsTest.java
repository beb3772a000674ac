package dev.smoldpo.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.deploy.DeploymentVariants;
import dev.smoldpo.infer.GraphDtypes;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import dev.smoldpo.infer.CachedDecoder;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deployment folder as transformers.js ({@code @huggingface/transformers} 4.3.1, see
 * {@code tests/js}) loads it: its greedy tokens for a prompt with one image tile must equal ours
 * (the three ONNX sessions driven from Java with the KV cache, the way transformers.js drives them),
 * in every dtype the export writes (fp32, fp16, q8, q4, q4f16, chosen with transformers.js' {@code dtype}
 * option as one name and as a per-file map).
 *
 * <p>Runs where {@code node} is on the PATH and {@code npm ci --prefix tests/js} has been run;
 * skipped otherwise. The pixel values and the expanded prompt ids are handed to transformers.js
 * as they are: its image processor is bypassed on purpose (its resize is not PIL's), so this
 * checks the ONNX folder and the decoding, not preprocessing.
 */
class TransformersJsTest {
    private static final int MAX_NEW_TOKENS = 12;
    private static final long NODE_TIMEOUT_S = 120;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;

    @Test
    void transformersJsGreedyTokensEqualOurs() throws Exception {
        Path js = jsDir();
        Assumptions.assumeTrue(js != null, "tests/js with node_modules/@huggingface/transformers not found "
                + "(run: npm ci --prefix tests/js)");
        String node = nodeExecutable();
        Assumptions.assumeTrue(node != null, "node is not on the PATH");

        // the demo model, its training artifacts, "trained" adapters and the deployment folder
        Path modelDir = DemoModel.write(root.resolve("model"), 42);
        ArtifactFiles artifacts = SmolVlmExporter.export(modelDir, root.resolve("artifacts"), new SmolVlmExporter.Options(
                "demo", new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        Path trained = trainedCheckpoint(artifacts.checkpoint(), root.resolve("trained.ckpt"));
        Path deploy = DeploymentExporter.export(artifacts.dir(), trained, root.resolve("deploy"), null,
                new DeploymentVariants(EnumSet.allOf(DeploymentDtype.class), 32));
        ModelConfig config = ModelConfig.load(modelDir);

        // prompt: one tile, expanded the way the processor does it without a split
        StringBuilder image = new StringBuilder("<fake_token_around_image><global-img>");
        image.append("<image>".repeat(config.imageSeqLen())).append("<fake_token_around_image>");
        String text = "<|im_start|>User:" + image + "What colour is the shape?<end_of_utterance>\nAssistant:";
        long[] ids;
        try (HfTokenizer tokenizer = HfTokenizer.load(deploy)) {
            ids = tokenizer.encode(text);
        }
        assertEquals(config.imageSeqLen(), Arrays.stream(ids).filter(i -> i == config.imageTokenId()).count(),
                "image tokens in the prompt");

        int s = config.vision().imageSize();
        float[] tile = new float[3 * s * s];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < tile.length; i++) {
            tile[i] = (float) (r.nextDouble() * 2 - 1);
        }
        Set<Long> eos = eosIds(deploy);

        List<Long> ours = greedy(deploy, config, ids, tile, MAX_NEW_TOKENS, GraphDtypes.FP32);
        List<Long> theirs = transformersJs(node, js, deploy, ids, tile, s, MAX_NEW_TOKENS, "fp32");
        System.out.println("greedy tokens, ours:            " + ours);
        System.out.println("greedy tokens, transformers.js: " + theirs);

        assertEquals(MAX_NEW_TOKENS, ours.size());
        // the comparison means something only if the image steers the tokens
        float[] other = tile.clone();
        for (int i = 0; i < other.length; i++) {
            other[i] = -other[i];
        }
        assertTrue(!ours.equals(greedy(deploy, config, ids, other, MAX_NEW_TOKENS, GraphDtypes.FP32)),
                "the greedy tokens do not depend on the image");
        assertSameTokens(ours, theirs, eos, "fp32");

        // every other dtype, named once for all graphs and as a per-file map, each from a folder that holds
        // only the files that dtype selects: transformers.js loads them under its own file names or fails
        for (DeploymentDtype p : DeploymentDtype.values()) {
            GraphDtypes dtypes = GraphDtypes.all(p);
            Path only = onlyFiles(deploy, dtypes, root.resolve("only-" + p.id()));
            List<Long> mine = greedy(only, config, ids, tile, MAX_NEW_TOKENS, dtypes);
            List<Long> js4 = transformersJs(node, js, only, ids, tile, s, MAX_NEW_TOKENS, p.id());
            System.out.println(p + ": ours " + mine + ", transformers.js " + js4);
            assertSameTokens(mine, js4, eos, p.id());
        }
        GraphDtypes mixed = GraphDtypes.parse("vision_encoder=fp16,embed_tokens=q8,decoder_model_merged=q4f16");
        Path only = onlyFiles(deploy, mixed, root.resolve("only-mixed"));
        Map<String, String> map = new LinkedHashMap<>();
        mixed.byGraph().forEach((g, p) -> map.put(g, p.id()));
        List<Long> mine = greedy(only, config, ids, tile, MAX_NEW_TOKENS, mixed);
        List<Long> js4 = transformersJs(node, js, only, ids, tile, s, MAX_NEW_TOKENS, map);
        System.out.println(mixed + ": ours " + mine + ", transformers.js " + js4);
        assertSameTokens(mine, js4, eos, mixed.toString());
    }

    /** Equal tokens, or equal up to an end-of-sequence token where transformers.js stopped although asked not to. */
    private static void assertSameTokens(List<Long> ours, List<Long> theirs, Set<Long> eos, String dtype) {
        if (theirs.size() < ours.size() && !theirs.isEmpty() && eos.contains(theirs.get(theirs.size() - 1))) {
            assertEquals(ours.subList(0, theirs.size()), theirs, dtype + ": greedy tokens up to transformers.js' end of sequence");
        } else {
            assertEquals(ours, theirs, dtype + ": greedy tokens, ours vs transformers.js");
        }
    }

    /**
     * A deployment folder holding, of the ONNX files, only those {@code dtypes} selects (links to the
     * full folder's files), so a loader that picked any other file would fail.
     */
    static Path onlyFiles(Path deploy, GraphDtypes dtypes, Path out) throws IOException {
        Files.createDirectories(out.resolve("onnx"));
        try (var files = Files.list(deploy)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.createSymbolicLink(out.resolve(f.getFileName().toString()), f.toAbsolutePath());
            }
        }
        for (String file : dtypes.files()) {
            for (String name : List.of(file, file + "_data")) {
                Files.createSymbolicLink(out.resolve(name), deploy.resolve(name).toAbsolutePath());
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ ours

    /**
     * Greedy decoding with the product's own {@link CachedDecoder}, end-of-sequence ignored: a prefill
     * over the whole prompt (image features over the {@code <image>} rows), then one token at a time
     * with the KV cache.
     */
    static List<Long> greedy(Path deploy, ModelConfig config, long[] ids, float[] tile, int maxNewTokens, GraphDtypes dtypes)
            throws Exception {
        int s = config.vision().imageSize();
        ByteBuffer mask = ByteBuffer.allocateDirect(s * s).order(ByteOrder.nativeOrder());
        for (int i = 0; i < s * s; i++) {
            mask.put((byte) 1);
        }
        mask.flip();
        try (CachedDecoder decoder = CachedDecoder.open(deploy, config, dtypes, 0, false)) {
            float[] features = decoder.imageFeatures(FloatBuffer.wrap(tile), mask, 1, s, s);
            List<Long> out = new ArrayList<>();
            try (CachedDecoder.Cache cache = decoder.prefill(decoder.promptEmbeddings(ids, features), ids.length)) {
                while (true) {
                    float[] logits = cache.logits();
                    long token = argmax(logits, 0, logits.length);
                    out.add(token);
                    if (out.size() >= maxNewTokens) {
                        return out;
                    }
                    cache.append(token);
                }
            }
        }
    }

    /** First index of the largest value (as transformers.js' argmax: ties go to the lowest id). */
    private static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[from + i] > a[from + best]) {
                best = i;
            }
        }
        return best;
    }

    // ------------------------------------------------------------------ transformers.js

    /** transformers.js' greedy tokens for the files {@code dtype} (a name or a per-file map) selects. */
    static List<Long> transformersJs(String node, Path js, Path deploy, long[] ids, float[] tile, int s, int maxNewTokens,
                                     Object dtype) throws Exception {
        Path work = Files.createDirectories(deploy.resolveSibling("transformers-js-" + deploy.getFileName()));
        Path pixels = work.resolve("pixel_values.f32");
        ByteBuffer b = ByteBuffer.allocate(tile.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(tile);
        Files.write(pixels, b.array());
        ObjectNode request = JSON.createObjectNode();
        request.putPOJO("input_ids", ids);
        request.put("pixel_values", pixels.toAbsolutePath().toString());
        request.putPOJO("pixel_values_shape", new long[] {1, 1, 3, s, s});
        request.put("max_new_tokens", maxNewTokens);
        request.put("ignore_eos", true);
        request.putPOJO("dtype", dtype);
        Path requestFile = work.resolve("request.json");
        JSON.writeValue(requestFile.toFile(), request);

        ProcessBuilder pb = new ProcessBuilder(node, js.resolve("greedy.mjs").toAbsolutePath().toString(),
                deploy.toAbsolutePath().toString(), requestFile.toAbsolutePath().toString())
                .directory(js.toFile());
        long start = System.nanoTime();
        Process p = pb.start();
        p.getOutputStream().close();
        CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        if (!p.waitFor(NODE_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            fail("node greedy.mjs did not finish within " + NODE_TIMEOUT_S + " s; stderr:\n" + stderr.getNow(""));
        }
        String out = stdout.get(10, TimeUnit.SECONDS);
        String err = stderr.get(10, TimeUnit.SECONDS);
        System.out.printf("transformers.js: node greedy.mjs took %.1f s%n", (System.nanoTime() - start) / 1e9);
        if (p.exitValue() != 0) {
            fail("node greedy.mjs exited with " + p.exitValue() + "\nstdout:\n" + out + "\nstderr:\n" + err);
        }
        JsonNode tokens;
        try {
            tokens = JSON.readTree(out);
        } catch (IOException e) {
            throw new AssertionError("node greedy.mjs printed no JSON array: " + out + "\nstderr:\n" + err, e);
        }
        assertTrue(tokens != null && tokens.isArray(), "node greedy.mjs printed no JSON array: " + out + "\nstderr:\n" + err);
        List<Long> list = new ArrayList<>();
        tokens.forEach(t -> list.add(t.asLong()));
        if (!err.isBlank()) {
            System.out.println("node stderr:\n" + err);
        }
        return list;
    }

    private static String read(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ------------------------------------------------------------------ setup

    /** {@code tests/js} when its node_modules holds transformers.js; null otherwise. */
    static Path jsDir() {
        for (Path candidate : List.of(Path.of("js"), Path.of("tests", "js"))) {
            Path dir = candidate.toAbsolutePath().normalize();
            if (Files.isRegularFile(dir.resolve("greedy.mjs"))
                    && Files.isDirectory(dir.resolve("node_modules/@huggingface/transformers"))) {
                return dir;
            }
        }
        return null;
    }

    /** The {@code node} executable on the PATH, or null. */
    static String nodeExecutable() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        boolean windows = System.getProperty("os.name", "").toLowerCase().startsWith("windows");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            for (String name : windows ? List.of("node.exe", "node.cmd", "node") : List.of("node")) {
                Path f = Path.of(dir, name);
                if (Files.isRegularFile(f) && Files.isExecutable(f)) {
                    return f.toString();
                }
            }
        }
        return null;
    }

    /** The export's checkpoint with random non-zero lora_B, so every adapted weight changes when merged. */
    static Path trainedCheckpoint(Path initialCheckpoint, Path out) throws IOException {
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

    /** eos_token_id of generation_config.json (else config.json): an int or a list. */
    static Set<Long> eosIds(Path deploy) throws IOException {
        Set<Long> ids = new LinkedHashSet<>();
        for (String f : List.of("generation_config.json", "config.json")) {
            Path file = deploy.resolve(f);
            if (!Files.isRegularFile(file)) {
                continue;
            }
            JsonNode node = JSON.readTree(file.toFile()).path("eos_token_id");
            if (node.isIntegralNumber()) {
                ids.add(node.asLong());
            }
            node.forEach(v -> ids.add(v.asLong()));
            if (!ids.isEmpty()) {
                break;
            }
        }
        return ids;
    }
}
