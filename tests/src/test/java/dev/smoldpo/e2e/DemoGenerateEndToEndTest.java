package dev.smoldpo.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DataSplit;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.peft.PeftAdapterExporter;
import dev.smoldpo.infer.Generator;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.train.DemoRecipe;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fit → export → generate on the demo: the exported model answers held-out questions with the
 * right colour more often than the untrained one. The demo's language model is random, so free
 * text is noise; the answer is chosen among the six colour answers by the model's own
 * log-probabilities (generate --choices), which is what DPO trains it to rank.
 */
class DemoGenerateEndToEndTest {
    @TempDir
    Path dir;

    private static final List<String> COLOURS = List.of("red", "green", "blue", "yellow", "purple", "orange");

    @Test
    void theTrainedModelPicksTheRightColourMoreOftenThanTheUntrainedOne() throws Exception {
        Path artifacts = dir.resolve("artifacts");
        Path run = dir.resolve("run");
        assertEquals(0, Main.run("fit", "--artifacts", artifacts.toString(), "--output-dir", run.toString(),
                "--eval-on-start", "false"));
        assertEquals(0, Main.run("export", "--run", run.toString()));
        Path trained = run.resolve("export/onnx");
        // the same preprocessing as training (and as the trained export): the demo recipe's image_longest_edge
        Path untrained = DeploymentExporter.export(artifacts, null, dir.resolve("untrained"),
                DemoRecipe.config().imageLongestEdge());

        // the PEFT adapter holds the trained tensors of the last checkpoint
        Map<String, float[]> adapter = PeftAdapterExporter.read(run.resolve("export/peft"));
        assertTrue(adapter.keySet().stream().allMatch(k -> k.endsWith(".lora_A.weight") || k.endsWith(".lora_B.weight")));
        assertTrue(adapter.values().stream().anyMatch(v -> java.util.Arrays.stream(toDoubles(v)).anyMatch(x -> x != 0)));

        TrainConfig config = DemoRecipe.config();
        Path data = run.resolve("demo_dataset.parquet");
        List<String> answers = COLOURS.stream().map(c -> "It is " + c + ".").toList();
        int trainedRight = 0;
        int untrainedRight = 0;
        int n;
        try (PreferenceDataset dataset = PreferenceDataset.open(data);
             Generator before = Generator.open(untrained, 1, false);
             Generator after = Generator.open(trained, 1, false)) {
            int[] test = DataSplit.of(dataset.size(), config.testSize(), config.effectiveDataSeed()).test();
            n = test.length;
            for (PreferenceExample e : dataset.get(test)) {
                List<DecodedImage> image = List.of(DecodedImage.decode(e.image()));
                int right = answers.indexOf(e.chosenText().strip());
                untrainedRight += best(before, e, image, answers) == right ? 1 : 0;
                trainedRight += best(after, e, image, answers) == right ? 1 : 0;
            }
        }
        System.out.printf("held-out demo questions answered with the right colour (of 6): untrained %d/%d (%.1f%%), "
                + "after fit %d/%d (%.1f%%)%n", untrainedRight, n, 100.0 * untrainedRight / n, trainedRight, n, 100.0 * trainedRight / n);
        assertTrue(trainedRight > untrainedRight, "trained " + trainedRight + " vs untrained " + untrainedRight);
        assertTrue(Files.exists(run.resolve("export/peft/adapter_config.json")));
    }

    private static int best(Generator g, PreferenceExample e, List<DecodedImage> image, List<String> answers) throws Exception {
        try (Generator.Prompt prompt = g.encode(e.promptText(), image)) {
            double[] scores = g.scoreAnswers(prompt, answers);
            int best = 0;
            for (int i = 1; i < scores.length; i++) {
                best = scores[i] > scores[best] ? i : best;
            }
            return best;
        }
    }

    private static double[] toDoubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}
