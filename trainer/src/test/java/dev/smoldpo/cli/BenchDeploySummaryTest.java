package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench-deploy --summarize: each dtype's row compares it with the same model's fp32 run and base run. */
class BenchDeploySummaryTest {
    @TempDir
    Path dir;

    private void write(String file, String role, String dtype, long decoderBytes, String prompts, String extra) throws Exception {
        Files.writeString(dir.resolve(file), """
                {"label": "demo", "role": "%s", "dtype": "%s",
                 "bytes": {"vision_encoder": 2000000, "embed_tokens": 1000000, "decoder_model_merged": %d},
                 "prefill_tokens_per_s": 100.0, "decode_tokens_per_s": 10.0, "peak_rss_bytes": 104857600,
                 "prompts": [%s] %s}
                """.formatted(role, dtype, decoderBytes, prompts, extra));
    }

    @Test
    void rowsCompareWithFloat32AndTheBaseModel() throws Exception {
        write("a-base.json", "base", "fp32", 8_000_000, """
                {"chosen_logp": -10, "rejected_logp": -10}, {"chosen_logp": -10, "rejected_logp": -10}""", "");
        write("b-fp32.json", "model", "fp32", 8_000_000, """
                {"tokens": [1, 2, 3], "chosen_logp": -5, "rejected_logp": -12},
                {"tokens": [4, 5, 6], "chosen_logp": -6, "rejected_logp": -11}""", ", \"choice_right\": 2, \"choice_count\": 2");
        // q4: the first prompt's tokens agree, the second's part from the second token; chosen log-probs move by 0.5 and 1.5;
        // its second pair's chosen reward (-7.5 + 10 = 2.5) falls below the rejected one's (-7 + 10 = 3)
        write("c-q4.json", "model", "q4", 2_000_000, """
                {"tokens": [1, 2, 3], "chosen_logp": -5.5, "rejected_logp": -12},
                {"tokens": [4, 9, 9], "chosen_logp": -7.5, "rejected_logp": -7}""", ", \"choice_right\": 1, \"choice_count\": 2");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BenchDeploySummary.print(dir, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(4, lines.size(), "header, rule and one row per model dtype: " + lines);
        String fp32 = lines.get(2);
        String q4 = lines.get(3);
        assertTrue(fp32.startsWith("| demo | fp32 | 2.00 / 1.00 / 8.00 | 1.000 |"), fp32);
        assertTrue(fp32.contains("| 2/2; 100% | 0.000 / 0.000 | 100.0% (2/2) | 100.0% (2/2) |"), fp32);
        assertTrue(q4.startsWith("| demo | q4 | 2.00 / 1.00 / 2.00 | 0.250 | 100 | 10.0 | 100 |"), q4);
        assertTrue(q4.contains("| 1/2; 67% | 1.000 / 1.500 | 50.0% (1/2) | 50.0% (1/2) |"), q4);
    }
}
