package dev.smoldpo.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.testing.SharedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SmolVLM-256M-Instruct's real config and tokenizer with random weights: the deployment folder's
 * KV-cache decoding gives the same tokens as recomputing the whole sequence (slow: one test).
 */
class Generator256mTest {
    @TempDir
    Path dir;

    static Path realConfig() {
        return SharedModels.smolVlmConfig();
    }

    @Test
    void kvCacheMatchesFullRecomputeAtRealShapes() throws Exception {
        long t0 = System.nanoTime();
        Path model = RandomCheckpoint.write(realConfig(), dir.resolve("model"), 1, SafetensorsDtype.BF16);
        ArtifactFiles artifacts = SmolVlmExporter.export(model, dir.resolve("artifacts"), new SmolVlmExporter.Options(
                "smolvlm-256m", new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT,
                AdamWConfig.DEFAULT, 3));
        Path deploy = DeploymentExporter.export(artifacts.dir(), null, dir.resolve("deploy"));
        long t1 = System.nanoTime();
        // a wide image: longest edge 2048 → 2048 x 256 → 1 x 4 tiles + global = 5 tiles, 320 image tokens
        DecodedImage image = DecodedImage.decode(DemoDeployment.png(400, 50, 6));
        try (Generator g = Generator.open(deploy, 0, false);
             Generator.Prompt prompt = g.encode("What is in the picture?", List.of(image))) {
            assertEquals(5, prompt.tiles());
            long t2 = System.nanoTime();
            List<float[]> cachedLogits = new ArrayList<>();
            List<float[]> fullLogits = new ArrayList<>();
            Generator.Result cached = g.generate(prompt, Generator.Options.greedy(3).withIgnoreEos(), null, cachedLogits::add);
            long t3 = System.nanoTime();
            Generator.Result full = g.generateWithoutCache(prompt, 3, true, fullLogits::add);
            long t4 = System.nanoTime();
            System.out.printf("256M: export %.1f s, %d prompt tokens, cached %.1f s, recomputed %.1f s, tokens %s%n",
                    (t1 - t0) / 1e9, prompt.length(), (t3 - t2) / 1e9, (t4 - t3) / 1e9, Arrays.toString(cached.tokens()));
            assertEquals(3, cached.tokens().length);
            assertArrayEquals(full.tokens(), cached.tokens());
            // random weights may repeat one token: the logits themselves must agree too
            for (int step = 0; step < 3; step++) {
                float[] a = cachedLogits.get(step), b = fullLogits.get(step);
                double diff = 0, scale = 0;
                for (int i = 0; i < a.length; i++) {
                    diff = Math.max(diff, Math.abs(a[i] - b[i]));
                    scale = Math.max(scale, Math.abs(b[i]));
                }
                System.out.printf("step %d: max |logit diff| %.3g (max |logit| %.3g)%n", step, diff, scale);
                assertTrue(diff <= 1e-3 * Math.max(1, scale), "step " + step + ": " + diff);
            }
        }
    }
}
