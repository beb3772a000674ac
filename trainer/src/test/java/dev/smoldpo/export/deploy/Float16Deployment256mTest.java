package dev.smoldpo.export.deploy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.infer.LogProbs;
import dev.smoldpo.infer.GraphDtypes;
import dev.smoldpo.model.demo.RandomCheckpoint;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.RoundingErrorBound;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import dev.smoldpo.testing.SharedModels;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fp16 deployment at SmolVLM-256M-Instruct's shapes (its real config, random float32 weights):
 * for a prompt with one image tile, every position's logits and next-token log-probs stay within
 * {@link RoundingErrorBound}'s first-order bound for rounding the weights to float16. Per position:
 * max_v |Δz_v| ≤ m_V·σ_ε·√M·σ_z (the largest of V logit perturbations of RMS σ_ε·√M·σ_z) and
 * |Δ log p| ≤ 2·m_V·σ_ε·√M·σ_z (logsumexp is 1-Lipschitz in the max norm). The fp16 graph also rounds
 * activations to float16 (relative error ≤ 2^-11 per stage, as the weights); the bound's worst-case
 * factors (the vocabulary maximum m_V ≈ 4.6 where a typical logit moves by about 1·RMS, and the 2 for the
 * log-sum) are the margin that covers them, and the measured fraction of the bound is printed (slow: one test).
 */
class Float16Deployment256mTest {
    @TempDir
    Path dir;

    @Test
    void float16LogitsStayWithinTheRoundingBoundOfFloat32() throws Exception {
        Path model = RandomCheckpoint.write(SharedModels.smolVlmConfig(), dir.resolve("model"), 1, SafetensorsDtype.F32);
        ModelConfig config = ModelConfig.load(model);
        RoundingErrorBound bound;
        try (SafetensorsFile file = SafetensorsFile.open(model.resolve("model.safetensors"))) {
            bound = RoundingErrorBound.of(config, file, DType.FLOAT16);
        }
        System.out.println(bound);
        ArtifactFiles artifacts = SmolVlmExporter.export(model, dir.resolve("artifacts"), new SmolVlmExporter.Options(
                "smolvlm-256m", new LoraConfig(8, 8, 0.0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT,
                AdamWConfig.DEFAULT, 3));
        Path deploy = DeploymentExporter.export(artifacts.dir(), null, dir.resolve("deploy"), null,
                new DeploymentVariants(EnumSet.of(DeploymentDtype.FP32, DeploymentDtype.FP16), 32));

        long[] ids = prompt(config);
        float[] tile = new float[3 * config.vision().imageSize() * config.vision().imageSize()];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < tile.length; i++) {
            tile[i] = (float) (r.nextDouble() * 2 - 1);
        }
        float[] fp32 = DeploymentVariantsTest.promptLogits(deploy, config, GraphDtypes.FP32, ids, tile);
        float[] fp16 = DeploymentVariantsTest.promptLogits(deploy, config, GraphDtypes.all(DeploymentDtype.FP16), ids, tile);

        int vocab = fp32.length / ids.length;
        double logitBound = bound.perToken() / 2;
        double worstLogit = 0;
        double worstLogp = 0;
        for (int p = 0; p + 1 < ids.length; p++) {
            double d = 0;
            for (int v = 0; v < vocab; v++) {
                float a = fp32[p * vocab + v];
                float b = fp16[p * vocab + v];
                assertTrue(Float.isFinite(b), "fp16 logit " + v + " at position " + p + " is " + b);
                d = Math.max(d, Math.abs(a - b));
            }
            worstLogit = Math.max(worstLogit, d);
            double dl = Math.abs(LogProbs.of(fp32, p, vocab, ids[p + 1]) - LogProbs.of(fp16, p, vocab, ids[p + 1]));
            worstLogp = Math.max(worstLogp, dl);
        }
        System.out.printf("256M fp16 vs fp32 over %d positions: max |Δlogit| %.4f (bound %.4f, %.1f%%), max |Δlog p| %.4f "
                        + "(bound %.4f, %.1f%%)%n", ids.length - 1, worstLogit, logitBound, 100 * worstLogit / logitBound, worstLogp,
                bound.perToken(), 100 * worstLogp / bound.perToken());
        assertTrue(worstLogit > 0, "the fp16 graph computes differently from float32");
        assertTrue(worstLogit <= logitBound, "max |Δlogit| " + worstLogit + " > " + logitBound);
        assertTrue(worstLogp <= bound.perToken(), "max |Δlog p| " + worstLogp + " > " + bound.perToken());
    }

    /** A start token, one tile's image tokens, then a few random words. */
    static long[] prompt(ModelConfig config) {
        int n = config.imageSeqLen();
        long[] ids = new long[n + 12];
        SplittableRandom r = new SplittableRandom(3);
        ids[0] = 1;
        for (int i = 0; i < n; i++) {
            ids[1 + i] = config.imageTokenId();
        }
        for (int i = 1 + n; i < ids.length; i++) {
            ids[i] = 200 + r.nextInt(20000);
        }
        return ids;
    }
}
