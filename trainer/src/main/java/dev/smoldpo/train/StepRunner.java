package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.nativelib.DpoLoss;
import dev.smoldpo.nativelib.DpoResult;
import dev.smoldpo.nativelib.KernelPlacement;
import dev.smoldpo.nativelib.LossType;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.config.TrainConfig;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs pairs through the training session: one optimizer step's pairs as micro-batches of
 * per_device_train_batch_size whose gradients accumulate ({@link #train}), or a batch through the
 * eval graph ({@link #eval}). Every micro-batch's log-probs go to the native fused DPO kernel, which
 * computes the loss and TRL's metrics independently; a loss that disagrees with the graph's stops the
 * run (the artifacts and the settings would not match).
 */
final class StepRunner {
    /** Relative tolerance between the graph's loss (float32) and the kernel's (double on the same log-probs). */
    static final double LOSS_CHECK_TOLERANCE = 1e-4;

    /** What a step did: its metrics, whether every loss was finite, and its tokens. */
    record Outcome(DpoMetrics metrics, boolean finite, long tokens) {}

    private final TrainConfig config;
    private final DpoCollator collator;
    private final DpoLoss kernel;

    /**
     * The graphs' outputs this class reads. Every output of the training API's graphs is copied to the
     * host on every step, so the graphs must have no others ({@link TrainingSession#requireOnlyOutputs}).
     */
    static final Set<String> USED_OUTPUTS = Set.of(SmolVlmInputs.LOSS, SmolVlmInputs.CHOSEN_LOGPS,
            SmolVlmInputs.REJECTED_LOGPS, SmolVlmInputs.CHOSEN_LOGITS_SUM, SmolVlmInputs.REJECTED_LOGITS_SUM);

    private TrainingSession checkedOutputs;

    StepRunner(TrainConfig config, ModelConfig model) {
        this.config = config;
        this.collator = new DpoCollator(model);
        // the loss check runs on the CPU unless a GPU measurement says otherwise (KernelPlacement)
        this.kernel = new DpoLoss(LossType.valueOf(config.lossType().name()), config.beta(), config.labelSmoothing(),
                config.referenceFree(), KernelPlacement.forFit(KernelPlacement.Kernel.DPO_LOSS,
                        config.device() == TrainConfig.Device.CUDA));
    }

    /**
     * trainStep over {@code pairs} in micro-batches, each pair weighted 1/pairs so the accumulated
     * gradient is the mean over the step; the caller decides on optimizerStep from {@link Outcome#finite()}.
     */
    Outcome train(TrainingSession session, List<PairEncoder.Encoded> pairs, List<ReferenceCache.Logps> refs,
                  Sections sections) throws Exception {
        DpoMetrics metrics = new DpoMetrics();
        boolean finite = true;
        float weight = 1f / pairs.size();
        for (int from = 0; from < pairs.size(); from += config.perDeviceTrainBatchSize()) {
            int to = Math.min(pairs.size(), from + config.perDeviceTrainBatchSize());
            List<ReferenceCache.Logps> microRefs = refs == null ? null : refs.subList(from, to);
            long t = System.nanoTime();
            Map<String, float[]> result = run(session, pairs.subList(from, to), microRefs, weight, true);
            sections.add("train_step", t);
            finite &= check(result, microRefs, pairs.subList(from, to), weight, metrics);
        }
        return new Outcome(metrics, finite, pairs.stream().mapToLong(PairEncoder.Encoded::tokens).sum());
    }

    /** evalStep over one batch; non-finite results are not counted into the metrics. */
    Outcome eval(TrainingSession session, List<PairEncoder.Encoded> pairs, List<ReferenceCache.Logps> refs)
            throws Exception {
        DpoMetrics metrics = new DpoMetrics();
        float weight = 1f / pairs.size();
        Map<String, float[]> result = run(session, pairs, refs, weight, false);
        boolean finite = check(result, refs, pairs, weight, metrics);
        return new Outcome(metrics, finite, pairs.stream().mapToLong(PairEncoder.Encoded::tokens).sum());
    }

    private Map<String, float[]> run(TrainingSession session, List<PairEncoder.Encoded> pairs,
                                     List<ReferenceCache.Logps> refs, float weight, boolean train) throws Exception {
        Map<String, TensorData> in = new HashMap<>(collator.collate(pairs.stream().map(PairEncoder.Encoded::pair).toList(),
                config.layout()));
        int n = pairs.size();
        float[] weights = new float[n];
        Arrays.fill(weights, weight);
        in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {n}, weights));
        in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, (float) config.beta()));
        if (refs != null) {
            in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {n}, chosen(refs)));
            in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {n}, rejected(refs)));
        }
        if (checkedOutputs != session) {
            session.requireOnlyOutputs(USED_OUTPUTS);
            checkedOutputs = session;
        }
        Map<String, OnnxTensor> feed = OrtTensors.of(session.env(), in);
        try {
            return train ? session.trainStep(feed) : session.evalStep(feed);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * The native kernel recomputes the loss and the metrics from the graph's log-probs; a loss that
     * disagrees with the graph's stops the run. Returns false for a non-finite loss.
     */
    private boolean check(Map<String, float[]> result, List<ReferenceCache.Logps> refs, List<PairEncoder.Encoded> pairs,
                          float weight, DpoMetrics into) {
        float graphLoss = result.get(SmolVlmInputs.LOSS)[0];
        if (!Float.isFinite(graphLoss)) {
            return false;
        }
        float[] chosen = result.get(SmolVlmInputs.CHOSEN_LOGPS);
        float[] rejected = result.get(SmolVlmInputs.REJECTED_LOGPS);
        int[] lc = pairs.stream().mapToInt(p -> p.pair().chosen().length).toArray();
        int[] lr = pairs.stream().mapToInt(p -> p.pair().rejected().length).toArray();
        DpoResult r = kernel.compute(chosen, rejected, refs == null ? null : chosen(refs), refs == null ? null : rejected(refs),
                lc, lr);
        double kernelLoss = 0;
        for (double l : r.losses()) {
            kernelLoss += weight * l;
        }
        if (Math.abs(kernelLoss - graphLoss) > LOSS_CHECK_TOLERANCE * Math.max(1e-2, Math.abs(kernelLoss))) {
            throw new IllegalStateException("the graph's loss " + graphLoss + " differs from the native kernel's " + kernelLoss
                    + " on the same log-probs: the artifacts and the training config disagree");
        }
        into.add(r, chosen, rejected, logitSums(result, SmolVlmInputs.CHOSEN_LOGITS_SUM),
                logitSums(result, SmolVlmInputs.REJECTED_LOGITS_SUM), lc, lr);
        return true;
    }

    private static float[] logitSums(Map<String, float[]> result, String output) {
        float[] v = result.get(output);
        if (v == null) {
            throw new IllegalStateException("the artifacts' graphs have no output '" + output + "' (they predate TRL's "
                    + "token-weighted logits/* metrics); export them again with ./tools/export-artifacts.sh");
        }
        return v;
    }

    private static float[] chosen(List<ReferenceCache.Logps> refs) {
        float[] v = new float[refs.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = refs.get(i).chosen();
        }
        return v;
    }

    private static float[] rejected(List<ReferenceCache.Logps> refs) {
        float[] v = new float[refs.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = refs.get(i).rejected();
        }
        return v;
    }
}
