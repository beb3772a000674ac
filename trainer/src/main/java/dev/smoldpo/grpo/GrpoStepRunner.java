package dev.smoldpo.grpo;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.smoldpo.grpo.sampling.SampledGroup;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.GrpoCollator;
import dev.smoldpo.model.smolvlm.GrpoInputs;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.TrainingSession;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One GRPO step over sampled, scored groups: the old log-probs from the eval graph before any update (TRL
 * computes them with the sampling policy; with num_iterations 1 they equal the current ones, its
 * per_token_logps.detach()), the reference's from a session on the export's initial checkpoint when β > 0,
 * then num_iterations × (lazyResetGrad, trainStep per micro-batch, optimizerStep).
 */
final class GrpoStepRunner {
    /** One prompt's group with its advantages (one per completion). */
    record ScoredGroup(GrpoPrompt prompt, SampledGroup sampled, double[] advantages) {}

    /** The loss of the step's first update and the loss metrics of its micro-batches. */
    record Result(double loss, List<GrpoLossMetrics> metrics, long completionTokens) {}

    private final GrpoConfig config;
    private final GrpoCollator collator;
    private final TrainingSession session;
    private final TrainingSession reference;

    GrpoStepRunner(GrpoConfig config, ModelConfig model, TrainingSession session, TrainingSession reference) {
        this.config = config;
        this.collator = new GrpoCollator(model);
        this.session = session;
        this.reference = reference;
    }

    Result run(List<ScoredGroup> groups) throws OrtException {
        int perMicro = config.promptsPerMicroBatch();
        List<Map<String, TensorData>> batches = new ArrayList<>();
        long stepTokens = 0;
        for (int start = 0; start < groups.size(); start += perMicro) {
            List<ScoredGroup> micro = groups.subList(start, Math.min(groups.size(), start + perMicro));
            Map<String, TensorData> in = inputs(micro);
            stepTokens += Math.round(sum(in.get(GrpoInputs.COMPLETION_MASK).toFloatArray()));
            batches.add(in);
        }
        int[] microTokens = new int[batches.size()];
        for (int i = 0; i < batches.size(); i++) {
            Map<String, TensorData> in = batches.get(i);
            in.put(GrpoInputs.OLD_PER_TOKEN_LOGPS, logps(session, in));
            if (reference != null) {
                in.put(GrpoInputs.REF_PER_TOKEN_LOGPS, logps(reference, in));
                in.put(GrpoInputs.BETA, scalar(config.beta()));
            }
            in.put(GrpoInputs.LOSS_NORMALIZER, normalizers(in, batches.size(), stepTokens));
            microTokens[i] = Math.round(sum(in.get(GrpoInputs.COMPLETION_MASK).toFloatArray()));
        }
        double firstLoss = 0;
        List<GrpoLossMetrics> metrics = new ArrayList<>();
        for (int iteration = 0; iteration < config.numIterations(); iteration++) {
            session.ort().lazyResetGrad();
            for (Map<String, TensorData> in : batches) {
                Map<String, float[]> out = run(session, in, true);
                if (iteration == 0) {
                    firstLoss += out.get(GrpoInputs.LOSS)[0];
                }
                metrics.add(GrpoLossMetrics.of(out.get(GrpoInputs.PER_TOKEN_LOGPS),
                        in.get(GrpoInputs.OLD_PER_TOKEN_LOGPS).toFloatArray(),
                        reference == null ? null : in.get(GrpoInputs.REF_PER_TOKEN_LOGPS).toFloatArray(),
                        in.get(GrpoInputs.COMPLETION_MASK).toFloatArray(), in.get(GrpoInputs.ADVANTAGES).toFloatArray(),
                        config.epsilon(), config.epsilonHighOrDefault()));
            }
            if (!Double.isFinite(firstLoss)) {
                throw new IllegalStateException("the GRPO loss is not finite (" + firstLoss + "); no update was made");
            }
            session.ort().optimizerStep();
        }
        return new Result(firstLoss, metrics, stepTokens);
    }

    /** The collated groups with their advantages and the loss settings; old log-probs and normalisers come later. */
    private Map<String, TensorData> inputs(List<ScoredGroup> micro) {
        List<GrpoCollator.Group> groups = new ArrayList<>();
        List<Float> advantages = new ArrayList<>();
        for (ScoredGroup s : micro) {
            List<long[]> completions = new ArrayList<>();
            for (int[] ids : s.sampled().completionIds()) {
                long[] l = new long[ids.length];
                for (int j = 0; j < ids.length; j++) {
                    l[j] = ids[j];
                }
                completions.add(l);
            }
            groups.add(new GrpoCollator.Group(s.prompt().encoded().inputIds(), s.prompt().encoded().image(), completions));
            for (double a : s.advantages()) {
                advantages.add((float) a);
            }
        }
        Map<String, TensorData> in = new HashMap<>(collator.collate(groups));
        float[] adv = new float[advantages.size()];
        for (int i = 0; i < adv.length; i++) {
            adv[i] = advantages.get(i);
        }
        in.put(GrpoInputs.ADVANTAGES, TensorData.floats(new long[] {adv.length}, adv));
        in.put(GrpoInputs.TEMPERATURE, scalar(config.temperature()));
        in.put(GrpoInputs.EPSILON_LOW, scalar(config.epsilon()));
        in.put(GrpoInputs.EPSILON_HIGH, scalar(config.epsilonHighOrDefault()));
        return in;
    }

    private TensorData normalizers(Map<String, TensorData> in, int microBatches, long stepTokens) {
        float[] mask = in.get(GrpoInputs.COMPLETION_MASK).toFloatArray();
        int seqs = (int) in.get(GrpoInputs.ADVANTAGES).elementCount();
        int[] lengths = new int[seqs];
        for (int i = 0; i < mask.length; i++) {
            lengths[i / (mask.length / seqs)] += (int) mask[i];
        }
        return TensorData.floats(new long[] {seqs},
                config.loss().normalizers(lengths, microBatches, config.maxCompletionLength(), stepTokens));
    }

    /** The per-token log-probs of {@code s}'s eval graph (its current parameters) for the batch. */
    private TensorData logps(TrainingSession s, Map<String, TensorData> in) throws OrtException {
        Map<String, TensorData> fed = new HashMap<>(in);
        TensorData mask = in.get(GrpoInputs.COMPLETION_MASK);
        int seqs = (int) in.get(GrpoInputs.ADVANTAGES).elementCount();
        // the loss inputs are not read for the log-probs: placeholders that keep the loss finite
        fed.putIfAbsent(GrpoInputs.OLD_PER_TOKEN_LOGPS, TensorData.floats(mask.dims(), new float[(int) mask.elementCount()]));
        fed.put(GrpoInputs.LOSS_NORMALIZER, TensorData.floats(new long[] {seqs}, filled(seqs, 1f)));
        if (s.ort().getEvalInputNames().contains(GrpoInputs.REF_PER_TOKEN_LOGPS)) {
            fed.putIfAbsent(GrpoInputs.REF_PER_TOKEN_LOGPS, fed.get(GrpoInputs.OLD_PER_TOKEN_LOGPS));
            fed.putIfAbsent(GrpoInputs.BETA, scalar(0));
        }
        return TensorData.floats(mask.dims(), run(s, fed, false).get(GrpoInputs.PER_TOKEN_LOGPS));
    }

    private static Map<String, float[]> run(TrainingSession s, Map<String, TensorData> in, boolean train) throws OrtException {
        java.util.Set<String> names = train ? s.ort().getTrainInputNames() : s.ort().getEvalInputNames();
        Map<String, TensorData> fed = new HashMap<>();
        for (String n : names) {
            if (in.containsKey(n)) {
                fed.put(n, in.get(n));
            }
        }
        Map<String, OnnxTensor> tensors = OrtTensors.of(s.env(), fed);
        try {
            return train ? s.trainStep(tensors) : s.evalStep(tensors);
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    private static TensorData scalar(double v) {
        return TensorData.floats(new long[] {1}, (float) v);
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    private static float sum(float[] a) {
        float s = 0;
        for (float x : a) {
            s += x;
        }
        return s;
    }
}
