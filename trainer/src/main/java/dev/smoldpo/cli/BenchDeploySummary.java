package dev.smoldpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The table of bench-deploy results: per model, each precision against that model's float32 run —
 * greedy tokens equal to float32's, |Δ log-prob| of the chosen answers — and, where the base model was
 * measured too, the DPO reward accuracy (chosen reward above rejected, rewards against the base).
 */
final class BenchDeploySummary {
    private BenchDeploySummary() {}

    static void print(Path dir, PrintStream out) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, List<JsonNode>> byLabel = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
                JsonNode n = json.readTree(f.toFile());
                byLabel.computeIfAbsent(n.path("label").asText(), k -> new ArrayList<>()).add(n);
            }
        }
        out.println("| model | dtype | vision / embed / decoder MB | decoder vs fp32 | prefill tok/s | decode tok/s | peak RSS MiB "
                + "| greedy = fp32 (prompts; tokens) | chosen Δlog-prob mean / max | held-out choice acc | DPO reward acc |");
        out.println("|---|---|---|---|---|---|---|---|---|---|---|");
        for (Map.Entry<String, List<JsonNode>> e : byLabel.entrySet()) {
            JsonNode reference = find(e.getValue(), "model", "fp32");
            JsonNode base = find(e.getValue(), "base", null);
            List<JsonNode> models = new ArrayList<>(e.getValue().stream().filter(n -> n.path("role").asText().equals("model")).toList());
            models.sort(Comparator.comparingInt(BenchDeploySummary::dtypeOrder));
            for (JsonNode n : models) {
                out.println(row(e.getKey(), n, reference, base));
            }
        }
    }

    /** fp32, fp16, q8, q4, q4f16 in that order; per-graph mixes after them. */
    private static int dtypeOrder(JsonNode n) {
        for (DeploymentDtype d : DeploymentDtype.values()) {
            if (d.id().equals(n.path("dtype").asText())) {
                return d.ordinal();
            }
        }
        return DeploymentDtype.values().length;
    }

    private static JsonNode find(List<JsonNode> runs, String role, String dtype) {
        for (JsonNode n : runs) {
            if (n.path("role").asText().equals(role) && (dtype == null || n.path("dtype").asText().equals(dtype))) {
                return n;
            }
        }
        return null;
    }

    private static String row(String label, JsonNode n, JsonNode reference, JsonNode base) {
        JsonNode bytes = n.path("bytes");
        String sizes = String.format("%.2f / %.2f / %.2f", mb(bytes, "vision_encoder"), mb(bytes, "embed_tokens"),
                mb(bytes, "decoder_model_merged"));
        String ratio = reference == null ? "" : String.format("%.3f", bytes.path("decoder_model_merged").asDouble()
                / reference.path("bytes").path("decoder_model_merged").asDouble());
        String greedy = "";
        String logp = "";
        if (reference != null) {
            int same = 0;
            int prompts = 0;
            long prefix = 0;
            long tokens = 0;
            double sum = 0;
            double max = 0;
            JsonNode mine = n.path("prompts");
            JsonNode theirs = reference.path("prompts");
            for (int i = 0; i < mine.size(); i++) {
                JsonNode a = mine.get(i).path("tokens");
                JsonNode b = theirs.get(i).path("tokens");
                if (a.size() > 0) {
                    prompts++;
                    int k = 0;
                    while (k < Math.min(a.size(), b.size()) && a.get(k).asLong() == b.get(k).asLong()) {
                        k++;
                    }
                    same += k == a.size() && k == b.size() ? 1 : 0;
                    prefix += k;
                    tokens += b.size();
                }
                double d = Math.abs(mine.get(i).path("chosen_logp").asDouble() - theirs.get(i).path("chosen_logp").asDouble());
                sum += d;
                max = Math.max(max, d);
            }
            greedy = String.format("%d/%d; %.0f%%", same, prompts, 100.0 * prefix / Math.max(1, tokens));
            logp = String.format("%.3f / %.3f", sum / Math.max(1, mine.size()), max);
        }
        String choice = n.has("choice_count") ? String.format("%.1f%% (%d/%d)", 100.0 * n.path("choice_right").asInt()
                / n.path("choice_count").asInt(), n.path("choice_right").asInt(), n.path("choice_count").asInt()) : "";
        String reward = "";
        if (base != null) {
            JsonNode mine = n.path("prompts");
            JsonNode ref = base.path("prompts");
            int wins = 0;
            for (int i = 0; i < mine.size(); i++) {
                double chosen = mine.get(i).path("chosen_logp").asDouble() - ref.get(i).path("chosen_logp").asDouble();
                double rejected = mine.get(i).path("rejected_logp").asDouble() - ref.get(i).path("rejected_logp").asDouble();
                wins += chosen > rejected ? 1 : 0;
            }
            reward = String.format("%.1f%% (%d/%d)", 100.0 * wins / mine.size(), wins, mine.size());
        }
        return String.format("| %s | %s | %s | %s | %.0f | %.1f | %.0f | %s | %s | %s | %s |", label, n.path("dtype").asText(), sizes,
                ratio, n.path("prefill_tokens_per_s").asDouble(), n.path("decode_tokens_per_s").asDouble(),
                n.path("peak_rss_bytes").asDouble() / 1048576, greedy, logp, choice, reward);
    }

    private static double mb(JsonNode bytes, String graph) {
        return bytes.path(graph).asDouble() / 1e6;
    }
}
