package dev.smoldpo.infer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A deployment folder in the layout transformers.js and Optimum use for SmolVLM: {@code config.json},
 * {@code generation_config.json}, tokenizer and processor files, and the three ONNX files, in the
 * precision {@code dtypes} picks for each ({@code onnx/<graph><suffix>.onnx}).
 */
public record DeploymentFolder(Path dir, ModelConfig config, Set<Long> eosIds, GraphDtypes dtypes) {
    public static final String VISION_ENCODER = "onnx/vision_encoder.onnx";
    public static final String EMBED_TOKENS = "onnx/embed_tokens.onnx";
    public static final String DECODER = "onnx/decoder_model_merged.onnx";
    public static final List<String> ONNX_FILES = List.of(VISION_ENCODER, EMBED_TOKENS, DECODER);

    /**
     * Reads and checks a deployment folder, in the precision its config.json names (else float32).
     *
     * @throws InferenceException when it is not a complete deployment folder
     */
    public static DeploymentFolder open(Path dir) throws IOException {
        return open(dir, null);
    }

    /**
     * Reads and checks a deployment folder for the files of {@code dtypes} (null: what its config.json
     * names, as transformers.js does).
     *
     * @throws InferenceException when it is not a complete deployment folder or lacks a chosen file
     */
    public static DeploymentFolder open(Path dir, GraphDtypes dtypes) throws IOException {
        check(dir);
        GraphDtypes chosen = dtypes != null ? dtypes : GraphDtypes.fromConfig(dir);
        checkFiles(dir, chosen);
        ModelConfig config;
        try {
            config = ModelConfig.load(dir);
        } catch (IOException e) {
            throw new InferenceException(dir + ": cannot read config.json: " + e.getMessage(), e);
        }
        return new DeploymentFolder(dir, config, eosIds(dir), chosen);
    }

    /** The ONNX file of {@code graph} in the chosen precision. */
    public Path file(String graph) {
        return dir.resolve(dtypes.file(graph));
    }

    /** Fails clearly when a chosen file is missing, naming the precisions the folder has for that graph. */
    static void checkFiles(Path dir, GraphDtypes dtypes) {
        List<String> missing = new ArrayList<>();
        List<String> present = new ArrayList<>();
        for (String graph : GraphDtypes.GRAPHS) {
            if (!Files.isRegularFile(dir.resolve(dtypes.file(graph)))) {
                missing.add(dtypes.file(graph));
                List<String> have = GraphDtypes.available(dir, graph).stream().map(DeploymentDtype::id).toList();
                present.add(graph + " in " + (have.isEmpty() ? "no dtype" : String.join(", ", have)));
            }
        }
        if (!missing.isEmpty()) {
            throw new InferenceException(dir + " is missing " + String.join(", ", missing) + " for --dtype " + dtypes
                    + " (the folder has " + String.join("; ", present) + "; trainer.jar export --dtype writes the others)");
        }
    }

    /** Fails clearly when {@code dir} is not a deployment folder or lacks one of its files. */
    static void check(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new InferenceException("model folder " + dir + " does not exist");
        }
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new InferenceException(dir + " has no config.json: not a deployment folder (expected config.json, "
                    + "tokenizer files and " + String.join(", ", ONNX_FILES) + ")");
        }
        boolean anyGraph = GraphDtypes.GRAPHS.stream().anyMatch(g -> !GraphDtypes.available(dir, g).isEmpty());
        if (!anyGraph) {
            throw new InferenceException(dir + " has no ONNX graphs (a deployment folder needs " + String.join(", ", ONNX_FILES)
                    + ", or their float16 / quantized variants)");
        }
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) {
            throw new InferenceException(dir + " is missing tokenizer.json");
        }
    }

    /** eos_token_id of generation_config.json, else of config.json / text_config; an int or a list. */
    public static Set<Long> eosIds(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Set<Long> ids = new LinkedHashSet<>();
        for (Path f : List.of(dir.resolve("generation_config.json"), dir.resolve("config.json"))) {
            if (!Files.isRegularFile(f)) {
                continue;
            }
            JsonNode root = json.readTree(f.toFile());
            for (JsonNode node : List.of(root.path("eos_token_id"), root.path("text_config").path("eos_token_id"))) {
                if (node.isIntegralNumber()) {
                    ids.add(node.asLong());
                }
                if (node.isArray()) {
                    node.forEach(v -> ids.add(v.asLong()));
                }
            }
            if (!ids.isEmpty()) {
                break;
            }
        }
        return Set.copyOf(ids);
    }
}
