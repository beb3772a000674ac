package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.Device;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * max_completion_length: each answer keeps its first max_completion_length tokens whatever the prompt
 * (TRL's DPOTrainer.tokenize_row), before the max_length rule; answers equal within it are skipped with
 * the reason naming the limit.
 */
class PairTruncationTest {
    @TempDir
    static Path dir;
    static Path artifacts;
    static ModelConfig model;

    @BeforeAll
    static void export() throws Exception {
        artifacts = dir.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        model = ModelConfig.load(artifacts);
    }

    private static PairEncoder.Outcome encode(int maxCompletionLength, String chosen, String rejected) throws Exception {
        DemoDataset.Pair p = DemoDataset.generate(1, 5, false).getFirst();
        PreferenceExample e = PreferenceExample.plain("0", p.png(), p.question(), chosen, rejected, 0);
        try (PairEncoder encoder = new PairEncoder(artifacts, model, new PairEncoder.Settings(512, 256, true, 32,
                maxCompletionLength), Device.CPU)) {
            return encoder.encode(List.of(e)).getFirst();
        }
    }

    @Test
    void answersKeepTheirFirstMaxCompletionLengthTokens() throws Exception {
        String chosen = "It is red, a bright and clear red.";
        String rejected = "It is blue, a deep and dark blue.";
        PairEncoder.Encoded whole = (PairEncoder.Encoded) encode(0, chosen, rejected);
        assertFalse(whole.truncated(), "well within max_length 512");
        int limit = 4;
        assertTrue(whole.pair().chosen().length > limit && whole.pair().rejected().length > limit, "answers longer than the limit");
        PairEncoder.Encoded cut = (PairEncoder.Encoded) encode(limit, chosen, rejected);
        assertTrue(cut.truncated());
        assertArrayEquals(Arrays.copyOf(whole.pair().chosen(), limit), cut.pair().chosen());
        assertArrayEquals(Arrays.copyOf(whole.pair().rejected(), limit), cut.pair().rejected());
        assertArrayEquals(whole.pair().prompt(), cut.pair().prompt(), "the prompt is untouched");
    }

    @Test
    void answersEqualWithinTheLimitAreSkippedNamingIt() throws Exception {
        PairEncoder.Outcome o = encode(2, "It is red.", "It is blue.");
        assertTrue(o instanceof PairEncoder.Skipped, o.toString());
        PairEncoder.Skipped s = (PairEncoder.Skipped) o;
        assertEquals(PairEncoder.IDENTICAL_AFTER_TRUNCATION, s.reason());
        assertTrue(s.detail().contains("max_completion_length 2"), s.detail());
    }
}
