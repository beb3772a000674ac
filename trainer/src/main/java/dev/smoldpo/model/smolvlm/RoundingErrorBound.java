package dev.smoldpo.model.smolvlm;

import dev.smoldpo.hf.Bf16;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.onnx.DType;
import java.io.IOException;

/**
 * How far rounding SmolVLM's frozen weights to a half-precision type may move a completion's summed
 * log-prob, to first order, for a checkpoint of random (Hugging Face-initialised) weights: the bound
 * the CPU twin of a bf16 export is checked against ({@code bench-precision}). Per completion of
 * {@code n} scored tokens:
 *
 * <pre>  B(n) = n · 2·m_V · σ_ε · √M · σ_z</pre>
 *
 * <ul>
 *   <li>σ_ε, the relative RMS rounding error of the rounded weights, measured on the checkpoint: per
 *       tensor √(Σ (r(w) − w)² / Σ w²), the largest over the tensors. Rounding to nearest with a
 *       p-bit significand (bfloat16 p = 8: 7 stored bits and the implicit one; float16 p = 11) leaves
 *       each weight a relative error of at most u = 2^-p (bfloat16: 3.9e-3), so σ_ε ≤ u. For a large
 *       tensor of uniformly spread values, errors uniform over ±half a spacing give σ_ε = 2^(1-p)/√28
 *       (bfloat16: 1.5e-3, about 2^-9.4); a small tensor can come out higher by chance.</li>
 *   <li>M, the rounded tensors a token's logits depend on: every matrix, bias and embedding of the
 *       vision tower, the connector and the decoder stored in the half type (a tied embedding counts
 *       twice: it is the table and the head). One product y = W·x with independent relative weight
 *       errors ε changes y_j by Σ_k W_jk x_k ε_jk, of variance σ_ε² Σ_k (W_jk x_k)², which for weights
 *       of random sign is σ_ε² E[y_j²]: a rounded stage perturbs its output by σ_ε in relative RMS
 *       whatever the reduction size K (it cancels). Independent stages add in quadrature, and the
 *       pre-norm residual stream keeps relative perturbations from growing or shrinking to first
 *       order, so the logits move by RMS(Δz) ≤ σ_ε·√M·σ_z.</li>
 *   <li>σ_z, the logits' RMS: √D · rms(W_head) · rms(final norm weight) (the final RMSNorm gives
 *       unit-RMS hidden states times its weight; a head of random sign sums D such products).</li>
 *   <li>2·m_V with m_V = √(2 ln 2V): a log-prob ℓ = z_y − logsumexp(z) moves by at most
 *       |Δz_y| + max_v |Δz_v| ≤ 2·max_v |Δz_v| (logsumexp is 1-Lipschitz in the max norm), and the
 *       largest of V perturbations of RMS s is about m_V·s or less (the expected maximum of V
 *       Gaussians' magnitudes).</li>
 *   <li>n: the tokens' errors are added as if they never cancelled (no independence assumed).</li>
 * </ul>
 *
 * What makes it a bound rather than an estimate are the last two items (in practice a token moves
 * by about RMS(Δz), and tokens' errors partly cancel); the first-order, no-amplification step is the
 * modelling assumption the measurements test.
 */
public record RoundingErrorBound(DType roundedTo, double relativeRmsError, int roundedTensors, double logitRms,
                                 double maxFactor) {

    /** The bound's ingredients for {@code config}'s checkpoint {@code file} rounded to {@code type}. */
    public static RoundingErrorBound of(ModelConfig config, SafetensorsFile file, DType type) throws IOException {
        if (type != DType.BFLOAT16 && type != DType.FLOAT16) {
            throw new IllegalArgumentException("rounding to " + type + " is not a half-precision rounding");
        }
        double worst = 0;
        int tensors = 0;
        for (ModelConfig.WeightSpec w : config.expectedWeights()) {
            if (w.name().contains("norm")) {
                continue; // norm parameters stay FLOAT (SmolVlmLayers)
            }
            tensors++;
            worst = Math.max(worst, relativeRmsError(file, w.name(), type));
        }
        if (config.tieWordEmbeddings()) {
            tensors++;
        }
        int d = config.text().hiddenSize();
        String head = config.tieWordEmbeddings() ? "model.text_model.embed_tokens.weight" : "lm_head.weight";
        double logitRms = Math.sqrt(d) * rms(file, head) * rms(file, "model.text_model.norm.weight");
        double maxFactor = Math.sqrt(2 * Math.log(2.0 * config.vocabSize()));
        return new RoundingErrorBound(type, worst, tensors, logitRms, maxFactor);
    }

    /** The bound on one token's log-prob change: 2·m_V · σ_ε · √M · σ_z. */
    public double perToken() {
        return 2 * maxFactor * relativeRmsError * Math.sqrt(roundedTensors) * logitRms;
    }

    /** The bound on the change of a sum of {@code tokens} log-probs. */
    public double forTokens(long tokens) {
        return tokens * perToken();
    }

    /** The largest relative error of rounding to nearest in {@code type}: 2^-8 for BFLOAT16, 2^-11 for FLOAT16. */
    public static double unitRoundoff(DType type) {
        return type == DType.BFLOAT16 ? 0x1p-8 : 0x1p-11;
    }

    static float round(float v, DType type) {
        return type == DType.BFLOAT16 ? Bf16.toFloat(Bf16.fromFloat(v)) : Float.float16ToFloat(Float.floatToFloat16(v));
    }

    private static double relativeRmsError(SafetensorsFile file, String name, DType type) throws IOException {
        double[] sums = new double[2];
        file.forEachChunk(name, 1 << 16, (offset, chunk, length) -> {
            for (int i = 0; i < length; i++) {
                double e = round(chunk[i], type) - chunk[i];
                sums[0] += e * e;
                sums[1] += (double) chunk[i] * chunk[i];
            }
        });
        return sums[1] == 0 ? 0 : Math.sqrt(sums[0] / sums[1]);
    }

    private static double rms(SafetensorsFile file, String name) throws IOException {
        double[] sums = new double[2];
        file.forEachChunk(name, 1 << 16, (offset, chunk, length) -> {
            for (int i = 0; i < length; i++) {
                sums[0] += (double) chunk[i] * chunk[i];
            }
            sums[1] += length;
        });
        return Math.sqrt(sums[0] / sums[1]);
    }

    @Override
    public String toString() {
        return String.format("rounding to %s: σ_ε %.3e (u = %.3e), M %d rounded tensors, logit RMS σ_z %.3f, m_V %.2f: "
                        + "per token %.4f", roundedTo, relativeRmsError, unitRoundoff(roundedTo), roundedTensors,
                logitRms, maxFactor, perToken());
    }
}
