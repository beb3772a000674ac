package dev.smoldpo.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.train.DemoRecipe;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job as the README runs it: export the demo, then fit with the demo defaults on CPU. The
 * held-out reward accuracy must climb far above chance, and must not when every image is blank:
 * the only signal in the demo preferences is the colour of the shape in the image.
 */
class DemoFitEndToEndTest {
    @TempDir
    Path dir;

    private JsonNode summary(Path out) throws Exception {
        return new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    }

    @Test
    void theDemoLearnsFromTheImageAndOnlyFromTheImage() throws Exception {
        Path artifacts = dir.resolve("onnx-artifacts/demo");
        Path run = dir.resolve("runs/demo");
        // no dataset: the demo export and the demo preference set are made on the fly, with no network
        assertEquals(0, Main.run("fit", "--artifacts", artifacts.toString(), "--output-dir", run.toString()));
        JsonNode s = summary(run);
        double before = s.get("first_eval").get("eval_rewards/accuracies").asDouble();
        double after = s.get("last_eval").get("eval_rewards/accuracies").asDouble();
        System.out.printf("demo: held-out rewards/accuracies %.3f -> %.3f%n", before, after);
        // before training the policy equals the reference: every margin is exactly 0, and TRL counts
        // only strictly positive margins as correct
        assertEquals(0.0, s.get("first_eval").get("eval_rewards/margins").asDouble(), 1e-6);
        assertTrue(after >= 0.90, "held-out accuracy after training: " + after);
        for (String plot : new String[] {"loss.png", "rewards_accuracies.png", "rewards_margins.png"}) {
            assertTrue(Files.size(run.resolve(plot)) > 1000, plot);
        }
        assertTrue(Files.exists(run.resolve("metrics.jsonl")));

        Path blank = DemoDataset.write(dir.resolve("blank.parquet"), DemoRecipe.PAIRS, DemoRecipe.DATA_SEED, true);
        Path blankRun = dir.resolve("runs/blank");
        assertEquals(0, Main.run("fit", "--demo", "--artifacts", artifacts.toString(), "--dataset", blank.toString(),
                "--output-dir", blankRun.toString()));
        double blankAfter = summary(blankRun).get("last_eval").get("eval_rewards/accuracies").asDouble();
        System.out.printf("demo with blank images: held-out rewards/accuracies %.3f%n", blankAfter);
        assertTrue(blankAfter <= 0.65, "with blank images the model cannot beat chance: " + blankAfter);
    }
}
