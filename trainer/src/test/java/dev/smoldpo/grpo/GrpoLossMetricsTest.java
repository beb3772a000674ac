package dev.smoldpo.grpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.smoldpo.testing.Fixtures;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The loss metrics computed on the host against those TRL's _compute_loss logged (fixtures/trl_grpo.json). */
class GrpoLossMetricsTest {
    static Stream<Integer> cases() {
        return IntStream.range(0, Fixtures.json("trl_grpo.json").get("cases").size()).boxed();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void metricsEqualTrls(int index) {
        JsonNode c = Fixtures.json("trl_grpo.json").get("cases").get(index);
        float[] logps = flat(c.get("per_token_logps"));
        boolean kl = c.get("beta").asDouble() != 0;
        GrpoLossMetrics m = GrpoLossMetrics.of(logps,
                c.get("on_policy").asBoolean() ? logps : flat(c.get("old_per_token_logps")),
                kl ? flat(c.get("ref_per_token_logps")) : null, flat(c.get("completion_mask")),
                Fixtures.floats(c.get("advantages")), c.get("epsilon").asDouble(), c.get("epsilon_high").asDouble());
        JsonNode trl = c.get("metrics");
        String what = c.get("loss_type").asText() + " case " + index;
        if (kl) {
            assertEquals(trl.get("kl").asDouble(), m.kl(), 1e-6, what + " kl");
        } else {
            assertTrue(Double.isNaN(m.kl()) && !trl.has("kl"), what + ": no kl without β");
        }
        assertEquals(trl.get("clip_ratio/low_mean").asDouble(), m.lowMean(), 1e-6, what);
        assertEquals(trl.get("clip_ratio/high_mean").asDouble(), m.highMean(), 1e-6, what);
        assertEquals(trl.get("clip_ratio/region_mean").asDouble(), m.regionMean(), 1e-6, what);
        assertEquals(trl.get("clip_ratio/low_min").asDouble(), m.lowMin(), 1e-6, what);
        assertEquals(trl.get("clip_ratio/high_max").asDouble(), m.highMax(), 1e-6, what);
    }

    private static float[] flat(JsonNode matrix) {
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        matrix.forEach(row -> row.forEach(out::add));
        return Fixtures.floats(out);
    }
}
