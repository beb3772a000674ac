package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.testing.Captured;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** bench-stash on the demo model: one line per recompute setting, recomputing more keeps no more, pairs scale it. */
class BenchStashCommandTest {
    private static final Pattern LINE = Pattern.compile("recompute (\\w+) +([0-9,.]+) MB per step, +([0-9,.]+) MB per pair");

    private static Map<String, Double> perStep(String... args) throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = "bench-stash";
        System.arraycopy(args, 0, all, 1, args.length);
        Captured run = Captured.run(() -> Main.run(all));
        assertEquals(0, run.code(), run.err());
        Map<String, Double> mb = new HashMap<>();
        Matcher m = LINE.matcher(run.out());
        while (m.find()) {
            mb.put(m.group(1), Double.parseDouble(m.group(2).replace(",", "")));
        }
        return mb;
    }

    @Test
    void recomputingMoreKeepsLessAndPairsScaleIt() throws Exception {
        Map<String, Double> one = perStep("--precision", "fp32");
        assertEquals(4, one.size(), one.toString());
        // the demo's vision encoder is tiny: recomputing its layers saves little beyond its attention
        assertTrue(one.get("layers") < one.get("vision") && one.get("vision") <= one.get("attention")
                && one.get("attention") < one.get("none"), one.toString());
        Map<String, Double> three = perStep("--precision", "fp32", "--recompute", "none", "--pairs", "3");
        assertEquals(3 * one.get("none"), three.get("none"), 0.3, "three pairs of the same lengths keep three times as much");
        // bf16 computes the softmax in float32, whose output its gradient reads: the largest part at the demo's shapes
        Captured half = Captured.run(() -> Main.run("bench-stash", "--precision", "bf16", "--recompute", "none"));
        assertEquals(0, half.code(), half.err());
        assertTrue(half.out().contains("largest (MB): Softmax FLOAT"), half.out());
    }
}
