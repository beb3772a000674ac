package dev.smoldpo.grpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.cli.Main;
import dev.smoldpo.grpo.sampling.LivePolicySampler;
import dev.smoldpo.grpo.sampling.SampledGroup;
import dev.smoldpo.grpo.sampling.SamplingSettings;
import dev.smoldpo.grpo.sampling.TrainingParameters;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.GrpoInputs;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.processor.SmolVlmProcessor;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompts, images, completions and advantages stay paired through a step with several prompts: the
 * demo's prompts (each its own image and colour) sampled one by one by the live sampler, then collated
 * together for the update. Each completion's per-token log-probs in the batched training graph must be
 * those the sampler gave for that prompt alone, and each advantage must sit at its completion.
 */
class GrpoPairingTest {
    /** Float32 evaluations of the same function in another addition order (KV cache vs one pass): ~1e-6 apart. */
    private static final double TOLERANCE = 1e-4;

    @TempDir
    static Path root;
    static Path artifacts;
    static List<GrpoPrompt> prompts;

    @BeforeAll
    static void export() throws Exception {
        artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--loss", "grpo", "--out", artifacts.toString()));
        try (SmolVlmProcessor processor = SmolVlmProcessor.load(artifacts, ModelConfig.load(artifacts), 32, Device.CPU)) {
            prompts = GrpoDemo.prompts(processor, "It is").get(0).subList(0, 4);
        }
    }

    @Test
    void batchedTrainingLogProbsAndAdvantagesMatchEachPromptSampledAlone() throws Exception {
        GrpoConfig config = new GrpoSettings().layer(GrpoDemo.recipe(), "demo recipe")
                .layer(Map.of("num_generations", "3", "per_device_train_batch_size", "12", "max_completion_length", "3",
                        "learning_rate", "1e-2",
                        // the sampler's log-probs are of the temperature-1 logits; the demo's beta needs a --kl export
                        "temperature", "1.0", "beta", "0"), "test").bind();
        Path trained = randomB(root.resolve("trained.ckpt"), 5, 0.3);
        try (LivePolicySampler sampler = LivePolicySampler.open(artifacts, 1, false);
             TrainingSession session = TrainingSession.open(new ArtifactFiles(artifacts), trained, 1)) {
            sampler.updateAdaptersFromCheckpoint(trained);
            GrpoStepRunner runner = new GrpoStepRunner(config, ModelConfig.load(artifacts), session, null);
            List<GrpoStepRunner.ScoredGroup> before = sampleAll(sampler, config.sampling(), 100);
            assertPaired(before, runner.scoredInputs(before), "adapters from a checkpoint");
            // one real update, then the sampler takes the session's live parameters as the loop does
            session.ort().setLearningRate((float) config.learningRate());
            runner.run(before);
            sampler.updateAdapters(TrainingParameters.read(session.ort(),
                    TrainingParameters.specs(Manifest.read(new ArtifactFiles(artifacts).manifest()))));
            List<GrpoStepRunner.ScoredGroup> after = sampleAll(sampler, config.sampling(), 200);
            Map<String, TensorData> in = runner.scoredInputs(after);
            assertPaired(after, in, "adapters read live after an update");
            float[] logpsBefore = runner.scoredInputs(before).get(GrpoInputs.OLD_PER_TOKEN_LOGPS).toFloatArray();
            assertNotEquals(before.getFirst().sampled().samplingLogps().getFirst()[0], logpsBefore[0],
                    "the update moved the policy (else this proves nothing about the live read)");
        }
    }

    /** A group of 3 per prompt, each sampled alone, with advantages 10 k + i that name their completion. */
    private static List<GrpoStepRunner.ScoredGroup> sampleAll(LivePolicySampler sampler, SamplingSettings settings,
                                                              long seed) {
        List<GrpoStepRunner.ScoredGroup> groups = new ArrayList<>();
        for (int k = 0; k < prompts.size(); k++) {
            SampledGroup g = sampler.sample(prompts.get(k).encoded(), settings, seed + k);
            double[] advantages = new double[3];
            for (int i = 0; i < 3; i++) {
                advantages[i] = 10 * k + i + (k % 2 == 0 ? 1 : -40);
            }
            groups.add(new GrpoStepRunner.ScoredGroup(prompts.get(k), g, advantages));
        }
        assertNotEquals(prompts.get(0).row(), prompts.get(1).row(), "the prompts ask about different colours");
        return groups;
    }

    private static void assertPaired(List<GrpoStepRunner.ScoredGroup> groups, Map<String, TensorData> in, String when) {
        float[] logps = in.get(GrpoInputs.OLD_PER_TOKEN_LOGPS).toFloatArray();
        float[] advantages = in.get(GrpoInputs.ADVANTAGES).toFloatArray();
        int c = (int) in.get(GrpoInputs.COMPLETION_MASK).dims()[1];
        int seq = 0;
        for (int k = 0; k < groups.size(); k++) {
            SampledGroup g = groups.get(k).sampled();
            for (int i = 0; i < 3; i++, seq++) {
                String what = when + ", prompt " + k + " completion " + i;
                assertEquals(groups.get(k).advantages()[i], advantages[seq], 1e-6, what + ": its advantage");
                float[] alone = g.samplingLogps().get(i);
                for (int j = 0; j < alone.length; j++) {
                    assertEquals(alone[j], logps[seq * c + j], TOLERANCE * Math.max(1, Math.abs(alone[j])),
                            what + " token " + j + ": batched training graph vs sampled alone");
                }
            }
        }
    }

    /** The export's adapters with every B drawn from U(-scale, scale), as an ORT checkpoint. */
    static Path randomB(Path file, long seed, double scale) {
        Checkpoint initial = CheckpointReader.read(artifacts.resolve("checkpoint"));
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, float[]> values = new LinkedHashMap<>(initial.trainableFloats());
        values.forEach((name, v) -> {
            if (name.endsWith("lora_B.weight")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
                }
            }
        });
        List<CheckpointTensor> tensors = new ArrayList<>();
        for (CheckpointTensor t : initial.trainable()) {
            tensors.add(CheckpointTensor.ofFloats(t.name(), t.dims(), values.get(t.name())));
        }
        CheckpointWriter.write(Checkpoint.of(tensors, initial.frozen()), file);
        assertTrue(values.keySet().stream().anyMatch(n -> n.endsWith("lora_B.weight")));
        return file;
    }
}
