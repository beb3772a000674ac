package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.smolvlm.RoundingErrorBound;
import dev.smoldpo.onnx.DType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * At the demo model's shapes (random float32 weights): the bf16-weight twin and the fp16 graph score
 * completions within {@link RoundingErrorBound}'s bound of the float32 graph, and the twin really
 * differs from it. SmolVLM-256M's shapes run in tools/bench-precision.sh (minutes, not seconds).
 */
class BenchPrecisionCommandTest {
    @TempDir
    Path dir;

    @Test
    void halfPrecisionStandInsStayWithinTheBfloat16RoundingBound() throws Exception {
        Path model = DemoModel.write(dir.resolve("demo"), DemoModel.DEFAULT_SEED);
        BenchPrecisionCommand.Result r = BenchPrecisionCommand.compare(model, 2, 1, dir, System.out);
        assertTrue(r.withinBound(), "within the bound: " + r.rows());
        double u = RoundingErrorBound.unitRoundoff(DType.BFLOAT16);
        double sigma = r.bound().relativeRmsError();
        // round to nearest with an 8-bit significand: no element errs by more than u = 2^-8, and the
        // largest tensor RMS is near 2^-7/√28 = u/2.6 (a coarser rounding would show here)
        assertTrue(sigma > u / 4 && sigma <= u, "σ_ε " + sigma);
        assertTrue(r.rows().size() == 4, r.rows().toString());
        assertTrue(r.rows().stream().anyMatch(row -> row.twinDelta() != 0), "the twin's weights are rounded: " + r.rows());
        assertTrue(r.rows().stream().anyMatch(row -> row.fp16Delta() != 0), "the fp16 graph computes in float16: " + r.rows());
        long fp32 = r.weightsBytes().get("fp32");
        long twin = r.weightsBytes().get("bf16-weight twin");
        assertTrue(twin < 0.55 * fp32, "the twin's weights are the bf16 export's, about half: " + twin + " of " + fp32);
    }
}
