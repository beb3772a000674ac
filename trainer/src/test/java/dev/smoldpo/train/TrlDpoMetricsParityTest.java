package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.DpoLoss;
import dev.smoldpo.nativelib.DpoResult;
import dev.smoldpo.nativelib.LossType;
import dev.smoldpo.testing.Fixtures;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The logged metrics of a training window and of an evaluation pass against TRL main's own
 * {@code DPOTrainer._compute_loss} and {@code DPOTrainer.log}, with HF Trainer's loss
 * (fixtures/trl_dpo.json, made by tools/fixtures/trl_dpo.py): the native kernel's per-pair results
 * and the graph's per-pair sums, accumulated by {@link DpoMetrics} exactly as StepRunner,
 * TrainLogger and Evaluator do, agree with TRL to 1e-6. The window has two optimizer steps of two
 * micro-batches of unequal sizes and the evaluation two batches of unequal sizes, so a per-pair
 * mean (or a mean of per-pair logit means) would not match.
 */
class TrlDpoMetricsParityTest {
    private static final double TOLERANCE = 1e-6;
    private static final List<String> METRICS = List.of("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies",
            "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected");

    static Stream<Integer> cases() {
        return IntStream.range(0, Fixtures.json("trl_dpo.json").get("metric_cases").size()).boxed();
    }

    private static JsonNode fixture(int i) {
        return Fixtures.json("trl_dpo.json").get("metric_cases").get(i);
    }

    private static DpoLoss kernel(JsonNode c) {
        return new DpoLoss(LossType.valueOf(c.get("loss_type").asText().toUpperCase(Locale.ROOT)), c.get("beta").asDouble(),
                c.get("label_smoothing").asDouble(), false, Device.CPU);
    }

    /** One micro-batch as StepRunner.check adds it. */
    private static DpoMetrics microBatch(DpoLoss kernel, JsonNode mb) {
        float[] pc = Fixtures.floats(mb.get("policy_chosen"));
        float[] pr = Fixtures.floats(mb.get("policy_rejected"));
        int[] lc = ints(mb.get("chosen_lengths"));
        int[] lr = ints(mb.get("rejected_lengths"));
        DpoResult r = kernel.compute(pc, pr, Fixtures.floats(mb.get("ref_chosen")), Fixtures.floats(mb.get("ref_rejected")), lc, lr);
        DpoMetrics m = new DpoMetrics();
        m.add(r, pc, pr, Fixtures.floats(mb.get("chosen_logit_sums")), Fixtures.floats(mb.get("rejected_logit_sums")), lc, lr);
        return m;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void trainingWindowLogsWhatTrlLogs(int index) {
        JsonNode c = fixture(index);
        DpoLoss kernel = kernel(c);
        DpoMetrics window = new DpoMetrics();
        for (JsonNode step : c.get("train_steps")) {
            DpoMetrics stepMetrics = new DpoMetrics(); // StepRunner.train: one per optimizer step
            for (JsonNode mb : step) {
                stepMetrics.addAll(microBatch(kernel, mb));
            }
            window.addStep(stepMetrics); // TrainLogger.step
        }
        assertSameMetrics(c.get("train_logged"), window.toMap(""), "", c.get("loss_type").asText());
        assertTrue(Math.abs(pairMean(c.get("train_steps"), "chosen_logit_sums", "chosen_lengths")
                - c.get("train_logged").get("logits/chosen").asDouble()) > 100 * TOLERANCE,
                "the fixture tells TRL's per-micro-batch token means from a pooled mean");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void evaluationLogsWhatTrlLogs(int index) {
        JsonNode c = fixture(index);
        DpoLoss kernel = kernel(c);
        DpoMetrics eval = new DpoMetrics();
        for (JsonNode batch : c.get("eval_batches")) {
            eval.addAll(microBatch(kernel, batch)); // Evaluator.evaluate
        }
        assertSameMetrics(c.get("eval_logged"), eval.toMap("eval_"), "eval_", c.get("loss_type").asText());
    }

    private static void assertSameMetrics(JsonNode trl, Map<String, Double> ours, String prefix, String lossType) {
        for (String name : METRICS) {
            double expected = trl.get(prefix + name).asDouble();
            Double actual = ours.get(prefix + name);
            assertTrue(actual != null, prefix + name + " is logged");
            assertEquals(expected, actual, TOLERANCE * Math.max(1, Math.abs(expected)), lossType + " " + prefix + name);
        }
    }

    /** Σ values / Σ tokens over every micro-batch of the window together. */
    private static double pairMean(JsonNode steps, String values, String tokens) {
        double sum = 0;
        double count = 0;
        for (JsonNode step : steps) {
            for (JsonNode mb : step) {
                for (int i = 0; i < mb.get(values).size(); i++) {
                    sum += mb.get(values).get(i).asDouble();
                    count += mb.get(tokens).get(i).asDouble();
                }
            }
        }
        return sum / count;
    }

    private static int[] ints(JsonNode array) {
        int[] v = new int[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asInt();
        }
        return v;
    }
}
