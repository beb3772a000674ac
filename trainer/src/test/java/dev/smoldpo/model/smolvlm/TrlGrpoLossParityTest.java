package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.autodiff.Autodiff;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.testing.Fixtures;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GRPO's loss of our graph (GrpoLossGraph alone, in ORT, with its gradient from our autodiff) against
 * TRL's own GRPOTrainer._compute_loss run on the same per-token log-probs (fixtures/trl_grpo.json, made by
 * tools/fixtures/trl_grpo.py): every loss_type, with and without the KL term, symmetric and asymmetric
 * clipping, on-policy (TRL's old = current.detach(), fed here as old = current) and off-policy with ratios
 * clipped on both sides, gradient accumulation; the normalisers come from {@link GrpoLossType#normalizers}.
 * Loss and d loss / d log-prob agree to 1e-5 (float32 graph, float64 torch).
 */
class TrlGrpoLossParityTest {
    private static final double TOLERANCE = 1e-5;

    @TempDir
    Path dir;

    static Stream<String> cases() {
        JsonNode cases = Fixtures.json("trl_grpo.json").get("cases");
        return IntStream.range(0, cases.size()).mapToObj(i -> i + ": " + describe(cases.get(i)));
    }

    static String describe(JsonNode c) {
        return c.get("loss_type").asText() + " beta " + c.get("beta").asDouble() + " eps " + c.get("epsilon").asDouble()
                + "/" + c.get("epsilon_high").asDouble() + (c.get("on_policy").asBoolean() ? " on-policy" : " off-policy")
                + " accumulation " + c.get("accumulation_steps").asInt();
    }

    static JsonNode fixture(String id) {
        return Fixtures.json("trl_grpo.json").get("cases").get(Integer.parseInt(id.substring(0, id.indexOf(':'))));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void graphLossAndGradientEqualTrl(String id) throws Exception {
        JsonNode c = fixture(id);
        boolean kl = c.get("beta").asDouble() != 0;
        Path model = dir.resolve("grpo_loss.onnx");
        ModelWriter.write(lossGraph(kl), model, null);
        try (OrtSession session = DemoFixture.session(model)) {
            Map<String, float[]> out = DemoFixture.run(session, inputs(c));
            double expected = c.get("loss").asDouble();
            assertEquals(expected, out.get("loss")[0], TOLERANCE * Math.max(1, Math.abs(expected)), describe(c));
            double[] trlGrad = flat(c.get("grad_per_token_logps"));
            float[] grad = out.get("grad");
            double nonZero = 0;
            for (int i = 0; i < trlGrad.length; i++) {
                assertEquals(trlGrad[i], grad[i], TOLERANCE * Math.max(1e-2, Math.abs(trlGrad[i])), describe(c) + " grad " + i);
                nonZero += trlGrad[i] != 0 ? 1 : 0;
            }
            assertTrue(nonZero > 0, "the case has gradients to compare");
        }
    }

    /** GrpoLossGraph over fed per-token log-probs, with d loss / d log-probs as a second output. */
    static Graph lossGraph(boolean kl) {
        Graph g = new Graph("grpo_loss");
        Value logps = g.input("per_token_logps", DType.FLOAT, Shape.of("seqs", "C"));
        GrpoLossGraph.Terms terms = new GrpoLossGraph.Terms(logps,
                g.input(GrpoInputs.COMPLETION_MASK, DType.FLOAT, Shape.of("seqs", "C")),
                g.input(GrpoInputs.ADVANTAGES, DType.FLOAT, Shape.of("seqs")),
                g.input(GrpoInputs.OLD_PER_TOKEN_LOGPS, DType.FLOAT, Shape.of("seqs", "C")),
                kl ? g.input(GrpoInputs.REF_PER_TOKEN_LOGPS, DType.FLOAT, Shape.of("seqs", "C")) : null,
                kl ? g.input(GrpoInputs.BETA, DType.FLOAT, Shape.of(1)) : null,
                g.input(GrpoInputs.EPSILON_LOW, DType.FLOAT, Shape.of(1)),
                g.input(GrpoInputs.EPSILON_HIGH, DType.FLOAT, Shape.of(1)),
                g.input(GrpoInputs.LOSS_NORMALIZER, DType.FLOAT, Shape.of("seqs")));
        Value loss = GrpoLossGraph.loss(g, terms);
        Value grad = Autodiff.gradients(g, loss, List.of(logps)).get("per_token_logps");
        g.output(g.node("Identity").in(loss).outputNames("loss").out());
        g.output(g.node("Identity").in(grad).outputNames("grad").out());
        return g;
    }

    static Map<String, TensorData> inputs(JsonNode c) {
        float[] mask = Fixtures.floats(flatNode(c.get("completion_mask")));
        float[] logps = floats(c.get("per_token_logps"));
        int seqs = c.get("advantages").size();
        long[] dims = {seqs, mask.length / seqs};
        int[] lengths = new int[seqs];
        for (int i = 0; i < mask.length; i++) {
            lengths[i / (int) dims[1]] += (int) mask[i];
        }
        GrpoLossType type = GrpoLossType.fromTrl(c.get("loss_type").asText());
        Map<String, TensorData> in = new HashMap<>();
        in.put("per_token_logps", TensorData.floats(dims, logps));
        in.put(GrpoInputs.COMPLETION_MASK, TensorData.floats(dims, mask));
        in.put(GrpoInputs.ADVANTAGES, TensorData.floats(new long[] {seqs}, Fixtures.floats(c.get("advantages"))));
        // on-policy: TRL takes old = current.detach(); fed as a separate input, the same values give the same loss and gradient
        in.put(GrpoInputs.OLD_PER_TOKEN_LOGPS, TensorData.floats(dims,
                c.get("on_policy").asBoolean() ? logps : floats(c.get("old_per_token_logps"))));
        in.put(GrpoInputs.REF_PER_TOKEN_LOGPS, TensorData.floats(dims, floats(c.get("ref_per_token_logps"))));
        in.put(GrpoInputs.BETA, TensorData.floats(new long[] {1}, (float) c.get("beta").asDouble()));
        in.put(GrpoInputs.EPSILON_LOW, TensorData.floats(new long[] {1}, (float) c.get("epsilon").asDouble()));
        in.put(GrpoInputs.EPSILON_HIGH, TensorData.floats(new long[] {1}, (float) c.get("epsilon_high").asDouble()));
        in.put(GrpoInputs.LOSS_NORMALIZER, TensorData.floats(new long[] {seqs}, type.normalizers(lengths,
                c.get("accumulation_steps").asInt(), c.get("max_completion_length").asInt(), c.get("step_tokens").asLong())));
        return in;
    }

    static float[] floats(JsonNode matrix) {
        return Fixtures.floats(flatNode(matrix));
    }

    static double[] flat(JsonNode matrix) {
        return Fixtures.doubles(flatNode(matrix));
    }

    static JsonNode flatNode(JsonNode matrix) {
        com.fasterxml.jackson.databind.node.ArrayNode out = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
        matrix.forEach(row -> row.forEach(out::add));
        return out;
    }
}
