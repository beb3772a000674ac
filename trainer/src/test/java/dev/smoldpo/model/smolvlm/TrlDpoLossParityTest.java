package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.DpoLoss;
import dev.smoldpo.nativelib.DpoResult;
import dev.smoldpo.nativelib.LossType;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.testing.Fixtures;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DPO loss of our graph (DpoLossGraph alone, in ORT) and of the native kernel against TRL's own
 * {@code DPOTrainer.dpo_loss} (v0.28.0, the last release with cDPO label smoothing and
 * reference_free; fixtures/trl_dpo.json, made by tools/fixtures/trl_dpo.py) for every loss type and
 * option we support: each pair's loss and the batch mean agree to 1e-6.
 */
class TrlDpoLossParityTest {
    private static final double GRAPH_TOLERANCE = 1e-6;
    private static final double KERNEL_TOLERANCE = 1e-9;

    @TempDir
    Path dir;

    static Stream<String> cases() {
        JsonNode cases = Fixtures.json("trl_dpo.json").get("loss_cases");
        return IntStream.range(0, cases.size()).mapToObj(i -> i + ": " + describe(cases.get(i)));
    }

    private static String describe(JsonNode c) {
        return c.get("loss_type").asText() + " beta " + c.get("beta").asDouble() + " label_smoothing "
                + c.get("label_smoothing").asDouble() + (c.get("reference_free").asBoolean() ? " reference-free" : "");
    }

    private static JsonNode fixture(String id) {
        return Fixtures.json("trl_dpo.json").get("loss_cases").get(Integer.parseInt(id.substring(0, id.indexOf(':'))));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void graphLossEqualsTrl(String id) throws Exception {
        JsonNode c = fixture(id);
        boolean referenceFree = c.get("reference_free").asBoolean();
        DpoConfig dpo = new DpoConfig(DpoLossType.fromTrl(c.get("loss_type").asText()), c.get("label_smoothing").asDouble(),
                referenceFree);
        Path model = dir.resolve("dpo_loss.onnx");
        ModelWriter.write(lossGraph(dpo), model, null);
        double[] trl = Fixtures.doubles(c.get("losses"));
        int n = trl.length;
        try (OrtSession session = DemoFixture.session(model)) {
            for (int pair = -1; pair < n; pair++) {
                // weights 1/n give the batch mean; a one-hot weight gives one pair's loss
                float[] weights = new float[n];
                for (int i = 0; i < n; i++) {
                    weights[i] = pair < 0 ? 1f / n : (i == pair ? 1f : 0f);
                }
                Map<String, TensorData> in = inputs(c, weights);
                float graph = DemoFixture.run(session, in).get("loss")[0];
                double expected = pair < 0 ? c.get("loss").asDouble() : trl[pair];
                assertEquals(expected, graph, GRAPH_TOLERANCE * Math.max(1, Math.abs(expected)),
                        describe(c) + (pair < 0 ? " mean" : " pair " + pair));
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void nativeKernelLossEqualsTrl(String id) {
        JsonNode c = fixture(id);
        boolean referenceFree = c.get("reference_free").asBoolean();
        String type = c.get("loss_type").asText();
        DpoResult r = new DpoLoss(LossType.valueOf(type.toUpperCase(java.util.Locale.ROOT)), c.get("beta").asDouble(),
                c.get("label_smoothing").asDouble(), referenceFree, Device.CPU).compute(
                Fixtures.floats(c.get("policy_chosen")), Fixtures.floats(c.get("policy_rejected")),
                referenceFree ? null : Fixtures.floats(c.get("ref_chosen")),
                referenceFree ? null : Fixtures.floats(c.get("ref_rejected")),
                ints(c.get("chosen_lengths")), ints(c.get("rejected_lengths")));
        double[] trl = Fixtures.doubles(c.get("losses"));
        for (int i = 0; i < trl.length; i++) {
            assertEquals(trl[i], r.losses()[i], KERNEL_TOLERANCE * Math.max(1, Math.abs(trl[i])), describe(c) + " pair " + i);
        }
        assertEquals(c.get("loss").asDouble(), r.loss(), KERNEL_TOLERANCE * Math.max(1, Math.abs(r.loss())), describe(c));
        if (!type.equals("ipo")) {
            // v0.28 reports ipo's rewards from length-normalised log-probs; TRL main and we from the
            // summed ones (checked against TRL main in TrlDpoMetricsParityTest). With reference_free
            // TRL still subtracts the reference it computed; our reference-free runs have none, which
            // the fixture feeds as zeros.
            double[] chosen = Fixtures.doubles(c.get("chosen_rewards_v0_28"));
            double[] rejected = Fixtures.doubles(c.get("rejected_rewards_v0_28"));
            for (int i = 0; i < chosen.length; i++) {
                assertEquals(chosen[i], r.rewardsChosen()[i], KERNEL_TOLERANCE * Math.max(1, Math.abs(chosen[i])), "rewards/chosen " + i);
                assertEquals(rejected[i], r.rewardsRejected()[i], KERNEL_TOLERANCE * Math.max(1, Math.abs(rejected[i])), "rewards/rejected " + i);
            }
        }
        assertTrue(Double.isFinite(r.loss()));
    }

    /** DpoLossGraph over fed per-pair log-probs and completion lengths (what SmolVlmGraph computes before it). */
    private static Graph lossGraph(DpoConfig dpo) {
        Graph g = new Graph("dpo_loss");
        Value chosen = g.input("policy_chosen", DType.FLOAT, Shape.of("pairs"));
        Value rejected = g.input("policy_rejected", DType.FLOAT, Shape.of("pairs"));
        Value chosenLength = g.input("chosen_length", DType.FLOAT, Shape.of("pairs"));
        Value rejectedLength = g.input("rejected_length", DType.FLOAT, Shape.of("pairs"));
        Value refChosen = dpo.referenceFree() ? null : g.input("ref_chosen", DType.FLOAT, Shape.of("pairs"));
        Value refRejected = dpo.referenceFree() ? null : g.input("ref_rejected", DType.FLOAT, Shape.of("pairs"));
        Value beta = g.input("beta", DType.FLOAT, Shape.of(1));
        Value weight = g.input("pair_weight", DType.FLOAT, Shape.of("pairs"));
        DpoScoring.CompletionScores scores = new DpoScoring.CompletionScores(chosen, rejected, chosenLength,
                rejectedLength, null, null);
        Value loss = DpoLossGraph.weightedLoss(g, dpo, scores, refChosen, refRejected, beta, weight);
        g.output(g.node("Identity").in(loss).outputNames("loss").out());
        return g;
    }

    private static Map<String, TensorData> inputs(JsonNode c, float[] weights) {
        long[] n = {weights.length};
        Map<String, TensorData> in = new HashMap<>();
        in.put("policy_chosen", TensorData.floats(n, Fixtures.floats(c.get("policy_chosen"))));
        in.put("policy_rejected", TensorData.floats(n, Fixtures.floats(c.get("policy_rejected"))));
        in.put("chosen_length", TensorData.floats(n, Fixtures.floats(c.get("chosen_lengths"))));
        in.put("rejected_length", TensorData.floats(n, Fixtures.floats(c.get("rejected_lengths"))));
        in.put("ref_chosen", TensorData.floats(n, Fixtures.floats(c.get("ref_chosen"))));
        in.put("ref_rejected", TensorData.floats(n, Fixtures.floats(c.get("ref_rejected"))));
        in.put("beta", TensorData.floats(new long[] {1}, (float) c.get("beta").asDouble()));
        in.put("pair_weight", TensorData.floats(n, weights));
        return in;
    }

    static int[] ints(JsonNode array) {
        int[] v = new int[array.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = array.get(i).asInt();
        }
        return v;
    }
}
