package dev.smoldpo.grpo.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.processor.SmolVlmProcessor;
import dev.smoldpo.testing.SharedModels;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SmolVLM-256M's real config with random weights: the cost of handing the live LoRA parameters to
 * the sampler (through ORT's C API, and through a saved checkpoint for comparison) and the sampling
 * rate of a group, printed for the record; the live read must equal the saved checkpoint.
 */
class LivePolicySampler256mTest {
    @TempDir
    Path dir;

    @Test
    void refreshCostAndSamplingRateAtRealShapes() throws Exception {
        Path model = RandomCheckpoint.write(SharedModels.smolVlmConfig(), dir.resolve("model"), 1, SafetensorsDtype.BF16);
        ArtifactFiles artifacts = SmolVlmExporter.export(model, dir.resolve("artifacts"), new SmolVlmExporter.Options(
                "smolvlm-256m", new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT,
                AdamWConfig.DEFAULT, 3));
        ModelConfig config = ModelConfig.load(artifacts.dir());
        EncodedPrompt prompt;
        try (SmolVlmProcessor processor = SmolVlmProcessor.load(artifacts.dir(), config, 512, Device.CPU)) {
            prompt = EncodedPrompt.encode(processor, List.of(ChatMessage.user("What colour is the shape?", 1)),
                    List.of(DecodedImage.decode(SamplingFixture.png(64, 48, 3))));
        }
        List<TrainingParameters.Spec> specs = TrainingParameters.specs(Manifest.read(artifacts.manifest()));
        long t0 = System.nanoTime();
        try (LivePolicySampler sampler = LivePolicySampler.open(artifacts.dir(), 0, false);
             TrainingSession session = TrainingSession.open(artifacts, artifacts.checkpoint(), 0)) {
            long t1 = System.nanoTime();
            TrainingParameters.read(session.ort(), specs); // binds the C API once
            int reps = 5;
            long r0 = System.nanoTime();
            Map<String, float[]> live = null;
            for (int i = 0; i < reps; i++) {
                live = TrainingParameters.read(session.ort(), specs);
            }
            long r1 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                sampler.updateAdapters(live);
            }
            long r2 = System.nanoTime();
            Path saved = dir.resolve("saved.ckpt");
            Map<String, float[]> fromDisk = null;
            for (int i = 0; i < reps; i++) {
                session.ort().saveCheckpoint(saved, false);
                fromDisk = CheckpointReader.read(saved).trainableFloats();
            }
            long r3 = System.nanoTime();
            int values = live.values().stream().mapToInt(v -> v.length).sum();
            System.out.printf("256M: sampler open %.1f s; %d LoRA values (%.1f MB): live read %.1f ms, updateAdapters %.1f ms,"
                    + " checkpoint save+read %.1f ms per refresh%n", (t1 - t0) / 1e9, values, values * 4 / 1e6,
                    (r1 - r0) / 1e6 / reps, (r2 - r1) / 1e6 / reps, (r3 - r2) / 1e6 / reps);
            for (String name : fromDisk.keySet()) {
                assertArrayEquals(fromDisk.get(name), live.get(name), name);
            }
            SamplingSettings settings = new SamplingSettings(1.0, 1.0, 0, 16, 8, 42);
            long s0 = System.nanoTime();
            SampledGroup group = sampler.sample(prompt, settings, 1);
            long s1 = System.nanoTime();
            int tokens = group.completionIds().stream().mapToInt(c -> c.length).sum();
            System.out.printf("256M: prompt %d tokens (%d tiles), G=8 x <=16: %d tokens in %.2f s = %.1f tokens/s%n",
                    prompt.inputIds().length, prompt.image().count(), tokens, (s1 - s0) / 1e9, tokens / ((s1 - s0) / 1e9));
            assertEquals(8, group.completionIds().size());
            assertTrue(tokens >= 8);
        }
    }
}
