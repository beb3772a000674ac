package dev.smoldpo.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a {@code fit} run ends with, written as {@code summary.json} and printed as a few readable lines.
 *
 * @param ending       completed, interrupted (Ctrl-C/SIGTERM), stopped_after_step, non_finite or no_update
 * @param skipped      unusable pairs by reason ({@code counts}, {@code examples}, {@code total}) and skipped steps
 * @param secondsBySection wall-clock seconds of data, reference, train_step and optimizer_step
 * @param hostDeviceBytes  bytes fed to and fetched from ORT ({@link HostDeviceTraffic#toMap}): on a GPU, the
 *                         host↔device copies of the steps
 */
public record FitSummary(long steps, String ending, Map<String, Double> firstEval, Map<String, Double> lastEval,
                         Map<String, Object> skipped, long referenceForwardPasses, long referencePairsScored,
                         long truncatedPairs, double trainSeconds, Map<String, Double> secondsBySection,
                         long pairsTrained, long tokensTrained, Path outputDir, Map<String, Object> hostDeviceBytes) {

    void write(Path file) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("steps", steps);
        json.put("ending", ending);
        json.put("first_eval", firstEval);
        json.put("last_eval", lastEval);
        json.put("skipped", skipped);
        json.put("reference_forward_passes", referenceForwardPasses);
        json.put("reference_pairs_scored", referencePairsScored);
        json.put("truncated_pairs", truncatedPairs);
        json.put("train_seconds", trainSeconds);
        json.put("seconds_by_section", secondsBySection);
        json.put("pairs_trained", pairsTrained);
        json.put("tokens_trained", tokensTrained);
        json.put("host_device_bytes_per_step", hostDeviceBytes.get("per_optimizer_step"));
        json.put("host_device_bytes", hostDeviceBytes);
        Files.writeString(file, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
    }

    /** The summary for a terminal: rounded figures, one topic a line. */
    public List<String> lines(double peakRssGiB) {
        List<String> lines = new ArrayList<>();
        double s = Math.max(trainSeconds, 1e-9);
        lines.add(String.format(Locale.ROOT, "done (%s): %d steps in %s, %s pairs/s, %s tokens/s; peak RSS %.2f GiB",
                ending.replace('_', ' '), steps, seconds(trainSeconds), round(pairsTrained / s), round(tokensTrained / s),
                peakRssGiB));
        List<String> parts = new ArrayList<>();
        secondsBySection.forEach((k, v) -> parts.add(k.replace('_', ' ') + " " + seconds(v)));
        lines.add("  time by section: " + String.join(", ", parts));
        if (hostDeviceBytes.get("train_step") instanceof Map<?, ?> t && ((Number) t.get("calls")).longValue() > 0) {
            lines.add("  host<->device per trainStep: " + bytes(t.get("input_bytes_per_call")) + " fed, "
                    + bytes(t.get("output_bytes_per_call")) + " fetched; per optimizer step "
                    + bytes(hostDeviceBytes.get("per_optimizer_step")));
        }
        lines.add("  reference log-probs: " + referenceForwardPasses + " forward passes in this run; truncated pairs: "
                + truncatedPairs);
        Object total = skipped.get("total");
        Object counts = skipped.get("counts");
        lines.add("  skipped pairs: " + total + (counts instanceof Map<?, ?> m && !m.isEmpty() ? " " + m : "")
                + "; skipped steps: non-finite " + skipped.get("nonfinite_steps") + ", empty " + skipped.get("empty_steps"));
        if (firstEval != null && !firstEval.isEmpty()) {
            lines.add(String.format(Locale.ROOT, "eval before training: rewards/accuracies %.3f, loss %.4f",
                    firstEval.get("eval_rewards/accuracies"), firstEval.get("eval_loss")));
        }
        if (lastEval != null && !lastEval.isEmpty()) {
            lines.add(String.format(Locale.ROOT, "eval after training:  rewards/accuracies %.3f, loss %.4f, margins %.4f",
                    lastEval.get("eval_rewards/accuracies"), lastEval.get("eval_loss"), lastEval.get("eval_rewards/margins")));
        }
        lines.add("metrics: " + outputDir.resolve("metrics.jsonl") + "; plots: " + outputDir
                + "/{loss,rewards_accuracies,rewards_margins}.png; checkpoints: " + outputDir + "/checkpoint-*");
        return lines;
    }

    /** 1,234 B, 12.3 KiB, 4.56 MiB. */
    private static String bytes(Object n) {
        double v = ((Number) n).doubleValue();
        if (v < 1024) {
            return String.format(Locale.ROOT, "%,.0f B", v);
        }
        return v < 1024 * 1024 ? String.format(Locale.ROOT, "%.1f KiB", v / 1024)
                : String.format(Locale.ROOT, "%.2f MiB", v / (1024 * 1024));
    }

    private static String seconds(double v) {
        return v >= 100 ? String.format(Locale.ROOT, "%.0f s", v) : String.format(Locale.ROOT, "%.1f s", v);
    }

    /** Three significant figures, without an exponent for everyday magnitudes. */
    private static String round(double v) {
        if (v >= 100) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        return String.format(Locale.ROOT, v >= 10 ? "%.1f" : v >= 1 ? "%.2f" : "%.3f", v);
    }
}
