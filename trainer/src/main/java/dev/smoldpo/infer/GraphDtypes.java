package dev.smoldpo.infer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which precision of each deployment graph to load, as transformers.js' {@code dtype} option says it
 * (src/utils/dtypes.js, selectDtype): one name for every graph ("q4"), or a per-graph map
 * ("decoder_model_merged=q4,vision_encoder=fp16"), where a graph left out takes float32, the CPU's
 * default. Graph {@code g} in precision {@code p} is the file {@code onnx/<g><suffix of p>.onnx}.
 */
public record GraphDtypes(Map<String, DeploymentDtype> byGraph) {
    public static final String VISION_ENCODER = "vision_encoder";
    public static final String EMBED_TOKENS = "embed_tokens";
    public static final String DECODER = "decoder_model_merged";
    public static final List<String> GRAPHS = List.of(VISION_ENCODER, EMBED_TOKENS, DECODER);
    /** Every graph in float32: the files a deployment folder always had. */
    public static final GraphDtypes FP32 = all(DeploymentDtype.FP32);

    public GraphDtypes {
        Map<String, DeploymentDtype> all = new LinkedHashMap<>();
        for (String g : GRAPHS) {
            all.put(g, byGraph.getOrDefault(g, DeploymentDtype.FP32));
        }
        for (String g : byGraph.keySet()) {
            if (!GRAPHS.contains(g)) {
                throw new IllegalArgumentException("unknown graph '" + g + "' in the dtype (graphs: " + String.join(", ", GRAPHS) + ")");
            }
        }
        byGraph = java.util.Collections.unmodifiableMap(all);
    }

    /** Every graph in {@code p}. */
    public static GraphDtypes all(DeploymentDtype p) {
        Map<String, DeploymentDtype> m = new LinkedHashMap<>();
        GRAPHS.forEach(g -> m.put(g, p));
        return new GraphDtypes(m);
    }

    /** "q4", or "graph=dtype,graph=dtype" (graphs left out: fp32). */
    public static GraphDtypes parse(String spec) {
        String s = spec.strip();
        if (!s.contains("=")) {
            return all(DeploymentDtype.of(s));
        }
        Map<String, DeploymentDtype> m = new LinkedHashMap<>();
        for (String part : s.split(",")) {
            String[] kv = part.split("=", -1);
            if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
                throw new IllegalArgumentException("dtype entry '" + part + "' is not graph=dtype (in '" + spec + "')");
            }
            if (m.put(kv[0].strip(), DeploymentDtype.of(kv[1])) != null) {
                throw new IllegalArgumentException("graph '" + kv[0].strip() + "' appears twice in the dtype '" + spec + "'");
            }
        }
        return new GraphDtypes(m);
    }

    /**
     * What transformers.js loads from {@code dir} when no dtype is given: config.json's
     * {@code transformers.js_config.dtype} (a name or a per-graph map), else float32.
     */
    public static GraphDtypes fromConfig(Path dir) throws IOException {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            return all(DeploymentDtype.FP32);
        }
        JsonNode dtype = new ObjectMapper().readTree(config.toFile()).path("transformers.js_config").path("dtype");
        try {
            if (dtype.isTextual()) {
                return all(DeploymentDtype.of(dtype.asText()));
            }
            if (dtype.isObject()) {
                Map<String, DeploymentDtype> m = new LinkedHashMap<>();
                dtype.fields().forEachRemaining(e -> m.put(e.getKey(), DeploymentDtype.of(e.getValue().asText())));
                return new GraphDtypes(m);
            }
        } catch (IllegalArgumentException e) {
            throw new InferenceException(config + ": transformers.js_config.dtype: " + e.getMessage(), e);
        }
        return all(DeploymentDtype.FP32);
    }

    public DeploymentDtype of(String graph) {
        DeploymentDtype p = byGraph.get(graph);
        if (p == null) {
            throw new IllegalArgumentException("unknown graph '" + graph + "'");
        }
        return p;
    }

    /** The file of {@code graph}, relative to the deployment folder: onnx/decoder_model_merged_q4.onnx. */
    public String file(String graph) {
        return "onnx/" + of(graph).fileName(graph);
    }

    public List<String> files() {
        return GRAPHS.stream().map(this::file).toList();
    }

    /** The precisions used, in graph order. */
    public Set<DeploymentDtype> precisions() {
        return new LinkedHashSet<>(byGraph.values());
    }

    /** The precisions of {@code graph} whose files {@code dir} holds. */
    static List<DeploymentDtype> available(Path dir, String graph) {
        List<DeploymentDtype> out = new ArrayList<>();
        for (DeploymentDtype p : DeploymentDtype.values()) {
            if (Files.isRegularFile(dir.resolve("onnx").resolve(p.fileName(graph)))) {
                out.add(p);
            }
        }
        return out;
    }

    /** "decoder_model_merged=q4,vision_encoder=fp16,embed_tokens=fp32", or "q4" when all agree. */
    @Override
    public String toString() {
        Set<DeploymentDtype> used = precisions();
        if (used.size() == 1) {
            return used.iterator().next().id();
        }
        List<String> parts = new ArrayList<>();
        byGraph.forEach((g, p) -> parts.add(g + "=" + p.id()));
        return String.join(",", parts);
    }
}
