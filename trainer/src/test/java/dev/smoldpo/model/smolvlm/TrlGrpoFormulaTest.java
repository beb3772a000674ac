package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The tests' transcription of TRL's GRPO loss ({@link TrlGrpoFormula}) against TRL's own run (fixtures/trl_grpo.json). */
class TrlGrpoFormulaTest {
    static java.util.stream.Stream<String> cases() {
        return TrlGrpoLossParityTest.cases();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void transcriptionEqualsTrl(String id) {
        JsonNode c = TrlGrpoLossParityTest.fixture(id);
        TrlGrpoFormula f = new TrlGrpoFormula(c.get("loss_type").asText(), c.get("beta").asDouble(),
                c.get("epsilon").asDouble(), c.get("epsilon_high").asDouble(), c.get("accumulation_steps").asInt(),
                c.get("max_completion_length").asInt(), c.get("step_tokens").asLong());
        boolean onPolicy = c.get("on_policy").asBoolean();
        double loss = f.loss(TrlGrpoLossParityTest.floats(c.get("per_token_logps")),
                onPolicy ? null : TrlGrpoLossParityTest.floats(c.get("old_per_token_logps")),
                TrlGrpoLossParityTest.floats(c.get("ref_per_token_logps")),
                TrlGrpoLossParityTest.floats(c.get("completion_mask")), Fixtures.floats(c.get("advantages")));
        assertEquals(c.get("loss").asDouble(), loss, 1e-9 * Math.max(1, Math.abs(loss)), TrlGrpoLossParityTest.describe(c));
    }
}
