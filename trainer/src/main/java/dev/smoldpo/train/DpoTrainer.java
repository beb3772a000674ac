package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.data.DataSplit;
import dev.smoldpo.data.EpochOrder;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.data.SkipReport;
import dev.smoldpo.model.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.nativelib.DpoLoss;
import dev.smoldpo.nativelib.DpoResult;
import dev.smoldpo.nativelib.LossType;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.train.support.LrSchedule;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.MetricsPlots;
import dev.smoldpo.train.support.Progress;
import dev.smoldpo.train.support.RunCheckpoints;
import dev.smoldpo.train.support.RunState;
import dev.smoldpo.train.support.TrainConfig;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * DPO training of the LoRA adapters: data → encoder → reference log-probs (cached) → ORT
 * trainStep per micro-batch → optimizerStep, with the native fused kernel computing the loss and
 * TRL's metrics from each step's log-probs (and checking the graph's loss), periodic evaluation on
 * the held-out split, metrics.jsonl, plots and resumable checkpoints.
 */
public final class DpoTrainer implements AutoCloseable {
    /** What a run ends with. */
    public record Summary(long steps, Map<String, Double> firstEval, Map<String, Double> lastEval,
                          Map<String, Object> skipped, long referenceForwardPasses, long referencePairsScored,
                          long truncatedPairs, double trainSeconds, Map<String, Double> secondsBySection,
                          long pairsTrained, long tokensTrained, Path outputDir) {}

    /** Wall-clock seconds of the training loop by section: data (read + encode), reference, trainStep, optimizerStep. */
    private final Map<String, Double> sections = new LinkedHashMap<>(Map.of("data", 0.0, "reference", 0.0,
            "train_step", 0.0, "optimizer_step", 0.0));

    private void time(String section, long startNanos) {
        sections.merge(section, (System.nanoTime() - startNanos) / 1e9, Double::sum);
    }

    /** Relative tolerance between the graph's loss (float32) and the kernel's (double on the same log-probs). */
    static final double LOSS_CHECK_TOLERANCE = 1e-4;

    private final TrainConfig config;
    private final PrintStream out;
    private final Path artifacts;
    private final ModelConfig model;
    private final PreferenceDataset dataset;
    private final PreferenceDataset evalDataset;
    private final int[] trainIndices;
    private final int[] testIndices;
    private final PairEncoder encoder;
    private final ReferenceScorer reference;
    private final DpoCollator collator;
    private final DpoLoss kernel;
    private final SkipReport.Builder skips = new SkipReport.Builder();
    private long truncated;
    private long stopAfterStep;
    /** Rows already counted as skipped or truncated: a pair met again (next epoch, next evaluation) counts once. */
    private final java.util.Set<String> counted = new java.util.HashSet<>();

    public DpoTrainer(TrainConfig config, Path artifacts, Path datasetFile, PrintStream out) throws Exception {
        this.config = config;
        this.out = out;
        this.artifacts = artifacts;
        if (!Files.isRegularFile(artifacts.resolve(ArtifactFiles.MANIFEST))) {
            throw new IllegalArgumentException("no artifacts in " + artifacts + " (manifest.json missing): run "
                    + "./tools/export-artifacts.sh first");
        }
        Manifest manifest = Manifest.read(artifacts.resolve(ArtifactFiles.MANIFEST));
        checkLossConfig(manifest);
        this.model = ModelConfig.load(artifacts);
        boolean cuda = config.device() == TrainConfig.Device.CUDA;
        this.dataset = PreferenceDataset.open(datasetFile);
        this.evalDataset = config.evalDataset() == null ? null : PreferenceDataset.open(config.evalDataset());
        skips.addAll(dataset.skipped());
        if (evalDataset == null) {
            DataSplit split = DataSplit.of(dataset.size(), config.testSize(), config.effectiveDataSeed());
            this.trainIndices = limit(split.train(), config.maxTrainSamples());
            this.testIndices = limit(split.test(), config.maxEvalSamples());
        } else {
            this.trainIndices = limit(range(dataset.size()), config.maxTrainSamples());
            this.testIndices = limit(range(evalDataset.size()), config.maxEvalSamples());
        }
        if (trainIndices.length == 0) {
            throw new IllegalArgumentException("no training pairs left after the split");
        }
        int maxPrompt = config.maxPromptLength() != null ? config.maxPromptLength() : config.maxLength() / 2;
        this.encoder = new PairEncoder(artifacts, model, new PairEncoder.Settings(config.maxLength(), maxPrompt,
                config.truncationMode() == TrainConfig.TruncationMode.KEEP_END,
                config.imageLongestEdge() == null ? 0 : config.imageLongestEdge()), cuda && Device.CUDA.isAvailable() ? Device.CUDA : Device.CPU);
        String referenceHash = String.valueOf(((Map<?, ?>) manifest.extra().get("source")).get("weights_sha256"))
                + ":" + ((Map<?, ?>) manifest.extra().get("source")).get("config_sha256");
        this.reference = new ReferenceScorer(artifacts.resolve(SmolVlmExporter.REFERENCE),
                new ReferenceCache(artifacts.resolve("reference_cache.duckdb"), referenceHash), model, config.layout(),
                config.threads(), cuda);
        this.collator = new DpoCollator(model);
        this.kernel = new DpoLoss(LossType.valueOf(config.lossType().name()), config.beta(), config.labelSmoothing(),
                config.referenceFree(), Device.CPU);
    }

    private void checkLossConfig(Manifest manifest) {
        Map<?, ?> dpo = (Map<?, ?>) manifest.extra().get("dpo");
        if (dpo == null) {
            throw new IllegalArgumentException(artifacts + " holds no DPO artifacts (export a SmolVLM model)");
        }
        String exported = String.valueOf(dpo.get("loss_type"));
        boolean refFree = Boolean.TRUE.equals(dpo.get("reference_free"));
        double smoothing = ((Number) dpo.get("label_smoothing")).doubleValue();
        if (!exported.equals(config.lossType().trlName()) || refFree != config.referenceFree()
                || Math.abs(smoothing - config.labelSmoothing()) > 1e-12) {
            throw new IllegalArgumentException("the artifacts were exported with loss_type " + exported + ", label_smoothing "
                    + smoothing + ", reference_free " + refFree + " but the training config asks for " + config.lossType().trlName()
                    + ", " + config.labelSmoothing() + ", " + config.referenceFree() + ": re-export with matching options");
        }
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    private static int[] limit(int[] indices, Integer max) {
        return max == null || max >= indices.length ? indices : java.util.Arrays.copyOf(indices, max);
    }

    /**
     * Ends the run right after step {@code step} (and its checkpoint, when one is due), as a kill
     * there would: a resumed run must continue exactly. 0 = never.
     */
    public void stopAfter(long step) {
        this.stopAfterStep = step;
    }

    public ReferenceScorer reference() {
        return reference;
    }

    /** Trains as configured and returns the summary. */
    public Summary fit() throws Exception {
        Path outputDir = config.outputDir();
        Files.createDirectories(outputDir);
        config.save(outputDir.resolve("train_config.json"));
        Path optimizer = outputDir.resolve("optimizer_model.onnx");
        ArtifactBuilder.writeOptimizer(config.adamWConfig(), optimizer);
        long total = config.totalSteps(trainIndices.length);
        LrSchedule schedule = config.lrSchedule(total);
        RunCheckpoints checkpoints = new RunCheckpoints(outputDir, config.saveTotalLimit());
        var resume = RunCheckpoints.resolveResume(config.resumeFromCheckpoint(), outputDir);
        RunState state = resume.map(RunCheckpoints.Saved::state)
                .orElse(RunState.initial(config.effectiveDataSeed(), total, config.hash()));
        if (resume.isPresent() && !state.configHash().equals(config.hash())) {
            out.println("warning: resuming with a different training config than the checkpoint's");
        }
        Path startCheckpoint = resume.map(RunCheckpoints.Saved::ortCheckpoint).orElse(artifacts.resolve(ArtifactFiles.CHECKPOINT));
        out.printf("training %d pairs (%d held out) for %d optimizer steps of %d x %d pairs; layout %s; output %s%n",
                trainIndices.length, testIndices.length, total, config.perDeviceTrainBatchSize(),
                config.gradientAccumulationSteps(), config.layout().configName(), outputDir);
        if (config.precomputeRefLogProbs() && !config.referenceFree()) {
            precompute();
        }
        Map<String, Double> firstEval = null;
        Map<String, Double> lastEval = null;
        try (TrainingSession session = TrainingSession.open(artifacts.resolve(ArtifactFiles.TRAINING),
                artifacts.resolve(ArtifactFiles.EVAL), optimizer, startCheckpoint, config.threads(),
                config.device() == TrainConfig.Device.CUDA);
             MetricsLog metrics = resume.isPresent() ? MetricsLog.openForResume(outputDir, state.globalStep()) : MetricsLog.open(outputDir);
             Progress progress = Progress.console("fit", total, state.globalStep(), out)) {
            if (config.evalOnStart() && state.globalStep() == 0 && testIndices.length > 0) {
                firstEval = evaluate(session);
                metrics.log(0, 0.0, firstEval);
                progress.message("step 0: " + format(firstEval));
            }
            long stepsPerEpoch = config.updateStepsPerEpoch(trainIndices.length);
            DpoMetrics window = new DpoMetrics();
            long windowTokens = 0;
            long windowStart = System.nanoTime();
            long nonFiniteInARow = 0;
            double trainSeconds = state.trainSeconds();
            long cursor = state.pairsSeen();
            int[] order = null;
            int orderEpoch = -1;
            for (long step = state.globalStep(); step < total; step++) {
                long stepStart = System.nanoTime();
                long epochIndex = step / stepsPerEpoch;
                int pairsPerStep = config.perDeviceTrainBatchSize() * config.gradientAccumulationSteps();
                // the pairs of this step: pull from the epoch order, skipping unusable pairs
                List<PairEncoder.Encoded> pairs = new ArrayList<>();
                long epochEnd = (epochIndex + 1) * (long) trainIndices.length;
                while (pairs.size() < pairsPerStep && cursor < epochEnd) {
                    int want = (int) Math.min((long) pairsPerStep - pairs.size(), epochEnd - cursor);
                    int[] rows = new int[want];
                    int epochOfCursor = (int) (cursor / trainIndices.length);
                    if (epochOfCursor != orderEpoch) {
                        order = EpochOrder.of(trainIndices, config.effectiveDataSeed(), epochOfCursor);
                        orderEpoch = epochOfCursor;
                    }
                    for (int i = 0; i < want; i++) {
                        rows[i] = order[(int) ((cursor + i) % trainIndices.length)];
                    }
                    cursor += want;
                    long t = System.nanoTime();
                    pairs.addAll(encode(dataset, rows));
                    time("data", t);
                }
                if (cursor >= epochEnd && (step + 1) % stepsPerEpoch == 0) {
                    cursor = epochEnd; // an epoch ends with its last step
                }
                if (pairs.isEmpty()) {
                    continue;
                }
                long tRef = System.nanoTime();
                List<ReferenceCache.Logps> refs = config.referenceFree() ? null : reference.score(pairs, config.perDeviceEvalBatchSize());
                time("reference", tRef);
                session.ort().setLearningRate((float) schedule.lr(step));
                session.ort().lazyResetGrad();
                boolean finite = true;
                DpoMetrics stepMetrics = new DpoMetrics();
                float weight = 1f / pairs.size();
                for (int from = 0; from < pairs.size(); from += config.perDeviceTrainBatchSize()) {
                    int to = Math.min(pairs.size(), from + config.perDeviceTrainBatchSize());
                    long tStep = System.nanoTime();
                    Map<String, float[]> result = run(session, pairs.subList(from, to), refs == null ? null : refs.subList(from, to),
                            weight, true);
                    time("train_step", tStep);
                    finite &= checkAndCount(result, refs == null ? null : refs.subList(from, to), pairs.subList(from, to),
                            weight, stepMetrics);
                }
                if (!finite) {
                    nonFiniteInARow++;
                    state = state.withSkipped("nonfinite_steps", 1);
                    progress.message("step " + (step + 1) + ": non-finite loss, step skipped (" + nonFiniteInARow + " in a row)");
                    if (nonFiniteInARow >= Math.max(1, config.maxNonfiniteSteps())) {
                        throw new IllegalStateException(nonFiniteInARow + " steps in a row had a non-finite loss; stopping "
                                + "(lower the learning rate, or raise max_nonfinite_steps)");
                    }
                } else {
                    nonFiniteInARow = 0;
                    long tOpt = System.nanoTime();
                    session.ort().optimizerStep();
                    time("optimizer_step", tOpt);
                }
                long tokens = pairs.stream().mapToLong(PairEncoder.Encoded::tokens).sum();
                trainSeconds += (System.nanoTime() - stepStart) / 1e9;
                state = state.afterStep(step + 1, (double) cursor / trainIndices.length, epochIndex, cursor % trainIndices.length,
                        step + 1, cursor, state.tokensSeen() + tokens, trainSeconds);
                if (finite) {
                    window.addAll(stepMetrics);
                }
                windowTokens += tokens;
                boolean last = step + 1 == total;
                boolean logNow = (step + 1) % config.loggingSteps() == 0 || last || (config.loggingFirstStep() && step == 0);
                if (logNow && window.pairs() > 0) {
                    double seconds = (System.nanoTime() - windowStart) / 1e9;
                    Map<String, Object> record = new LinkedHashMap<>(window.toMap(""));
                    record.put(MetricsLog.LEARNING_RATE, schedule.lr(step));
                    record.put(MetricsLog.PAIRS_PER_SECOND, window.pairs() / seconds);
                    record.put(MetricsLog.TOKENS_PER_SECOND, windowTokens / seconds);
                    record.put(MetricsLog.SKIPPED_PAIRS, skips.build().total());
                    record.put(MetricsLog.SKIPPED_NONFINITE_STEPS, state.skipped("nonfinite_steps"));
                    metrics.log(step + 1, state.epoch(), record);
                    progress.update(step + 1, Progress.extra(window.meanLoss(), window.pairs() / seconds, windowTokens / seconds));
                    window = new DpoMetrics();
                    windowTokens = 0;
                    windowStart = System.nanoTime();
                } else {
                    progress.update(step + 1, "");
                }
                boolean epochEnds = (step + 1) % stepsPerEpoch == 0;
                // every eval_steps, and at the end of each epoch and of the run (eval_strategy "no" turns both off)
                boolean evalNow = testIndices.length > 0 && config.evalStrategy() != TrainConfig.IntervalStrategy.NO
                        && (last || epochEnds
                        || config.evalStrategy() == TrainConfig.IntervalStrategy.STEPS && (step + 1) % config.effectiveEvalSteps() == 0);
                if (evalNow) {
                    lastEval = evaluate(session);
                    metrics.log(step + 1, state.epoch(), lastEval);
                    progress.message("step " + (step + 1) + ": " + format(lastEval));
                }
                boolean saveNow = last || config.saveStrategy() == TrainConfig.IntervalStrategy.STEPS && (step + 1) % config.saveSteps() == 0
                        || config.saveStrategy() == TrainConfig.IntervalStrategy.EPOCH && epochEnds;
                if (saveNow) {
                    checkpoints.save(step + 1, state, path -> session.ort().saveCheckpoint(path, true));
                }
                if (stopAfterStep > 0 && step + 1 == stopAfterStep) {
                    progress.message("stopping after step " + stopAfterStep + " as asked");
                    break;
                }
            }
        }
        MetricsPlots.write(outputDir);
        Map<String, Object> skipped = new LinkedHashMap<>(skips.build().toMap());
        skipped.put("nonfinite_steps", state.skipped("nonfinite_steps"));
        Summary summary = new Summary(state.globalStep(), firstEval, lastEval, skipped, reference.forwardPasses(),
                reference.pairsScored(), truncated, state.trainSeconds(), java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sections)), state.pairsSeen(),
                state.tokensSeen(), outputDir);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("steps", summary.steps());
        json.put("first_eval", summary.firstEval());
        json.put("last_eval", summary.lastEval());
        json.put("skipped", summary.skipped());
        json.put("reference_forward_passes", summary.referenceForwardPasses());
        json.put("truncated_pairs", summary.truncatedPairs());
        json.put("train_seconds", summary.trainSeconds());
        json.put("seconds_by_section", sections);
        json.put("pairs_trained", summary.pairsTrained());
        json.put("tokens_trained", summary.tokensTrained());
        Files.writeString(outputDir.resolve("summary.json"), new com.fasterxml.jackson.databind.ObjectMapper()
                .writerWithDefaultPrettyPrinter().writeValueAsString(json));
        return summary;
    }

    /** Runs one micro-batch through trainStep (train) or evalStep; returns the graph's outputs. */
    private Map<String, float[]> run(TrainingSession session, List<PairEncoder.Encoded> pairs, List<ReferenceCache.Logps> refs,
                                     float weight, boolean train) throws Exception {
        Map<String, TensorData> in = new HashMap<>(collator.collate(pairs.stream().map(PairEncoder.Encoded::pair).toList(),
                config.layout()));
        int n = pairs.size();
        float[] weights = new float[n];
        java.util.Arrays.fill(weights, weight);
        in.put(SmolVlmInputs.PAIR_WEIGHT, TensorData.floats(new long[] {n}, weights));
        in.put(SmolVlmInputs.BETA, TensorData.floats(new long[] {1}, (float) config.beta()));
        if (refs != null) {
            float[] rc = new float[n];
            float[] rr = new float[n];
            for (int i = 0; i < n; i++) {
                rc[i] = refs.get(i).chosen();
                rr[i] = refs.get(i).rejected();
            }
            in.put(SmolVlmInputs.REF_CHOSEN_LOGPS, TensorData.floats(new long[] {n}, rc));
            in.put(SmolVlmInputs.REF_REJECTED_LOGPS, TensorData.floats(new long[] {n}, rr));
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
    private boolean checkAndCount(Map<String, float[]> result, List<ReferenceCache.Logps> refs, List<PairEncoder.Encoded> pairs,
                                  float weight, DpoMetrics into) {
        float graphLoss = result.get(SmolVlmInputs.LOSS)[0];
        if (!Float.isFinite(graphLoss)) {
            return false;
        }
        float[] chosen = result.get(SmolVlmInputs.CHOSEN_LOGPS);
        float[] rejected = result.get(SmolVlmInputs.REJECTED_LOGPS);
        int n = pairs.size();
        float[] rc = null;
        float[] rr = null;
        if (refs != null) {
            rc = new float[n];
            rr = new float[n];
            for (int i = 0; i < n; i++) {
                rc[i] = refs.get(i).chosen();
                rr[i] = refs.get(i).rejected();
            }
        }
        int[] lc = pairs.stream().mapToInt(p -> p.pair().chosen().length).toArray();
        int[] lr = pairs.stream().mapToInt(p -> p.pair().rejected().length).toArray();
        DpoResult r = kernel.compute(chosen, rejected, rc, rr, lc, lr);
        double kernelLoss = 0;
        for (double l : r.losses()) {
            kernelLoss += weight * l;
        }
        if (Math.abs(kernelLoss - graphLoss) > LOSS_CHECK_TOLERANCE * Math.max(1e-2, Math.abs(kernelLoss))) {
            throw new IllegalStateException("the graph's loss " + graphLoss + " differs from the native kernel's " + kernelLoss
                    + " on the same log-probs: the artifacts and the training config disagree");
        }
        into.add(r, chosen, rejected, result.get(SmolVlmInputs.CHOSEN_LOGITS_MEAN), result.get(SmolVlmInputs.REJECTED_LOGITS_MEAN));
        return true;
    }

    /** Metrics on the held-out pairs, prefixed eval_. */
    public Map<String, Double> evaluate(TrainingSession session) throws Exception {
        return evaluate(session, evalDataset != null ? evalDataset : dataset, testIndices);
    }

    /**
     * The metrics of a saved checkpoint (an ORT checkpoint file, or a checkpoint-N folder) on a
     * split: "test" (the held-out pairs), "train" or "all".
     */
    public Map<String, Double> evaluateCheckpoint(Path checkpoint, String split) throws Exception {
        Path ort = Files.isDirectory(checkpoint) ? RunCheckpoints.load(checkpoint).ortCheckpoint() : checkpoint;
        try (TrainingSession session = TrainingSession.open(artifacts.resolve(ArtifactFiles.TRAINING),
                artifacts.resolve(ArtifactFiles.EVAL), artifacts.resolve(ArtifactFiles.OPTIMIZER), ort, config.threads(),
                config.device() == TrainConfig.Device.CUDA)) {
            return switch (split) {
                case "test" -> evaluate(session);
                case "train" -> evaluate(session, dataset, trainIndices);
                case "all" -> evaluate(session, dataset, range(dataset.size()));
                default -> throw new IllegalArgumentException("unknown split '" + split + "': use test, train or all");
            };
        }
    }

    private Map<String, Double> evaluate(TrainingSession session, PreferenceDataset source, int[] indices) throws Exception {
        DpoMetrics metrics = new DpoMetrics();
        int batch = config.perDeviceEvalBatchSize();
        for (int from = 0; from < indices.length; from += batch) {
            int[] rows = java.util.Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
            List<PairEncoder.Encoded> pairs = encode(source, rows);
            if (pairs.isEmpty()) {
                continue;
            }
            List<ReferenceCache.Logps> refs = config.referenceFree() ? null : reference.score(pairs, batch);
            Map<String, float[]> result = run(session, pairs, refs, 1f / pairs.size(), false);
            if (!checkAndCount(result, refs, pairs, 1f / pairs.size(), metrics)) {
                skips.add("eval_nonfinite", pairs.size(), List.of());
            }
        }
        return metrics.toMap(MetricsLog.EVAL_PREFIX);
    }

    private List<PairEncoder.Encoded> encode(PreferenceDataset source, int[] rows) {
        List<PreferenceExample> examples = source.get(rows);
        List<PairEncoder.Encoded> usable = new ArrayList<>();
        for (PairEncoder.Outcome o : encoder.encode(examples)) {
            switch (o) {
                case PairEncoder.Encoded e -> {
                    usable.add(e);
                    if (e.truncated() && counted.add((source == dataset ? "t" : "e") + e.example().sourceRow())) {
                        truncated++;
                    }
                }
                case PairEncoder.Skipped s -> {
                    if (counted.add((source == dataset ? "t" : "e") + s.example().sourceRow())) {
                        skips.add(s.reason(), s.example().sourceRow());
                    }
                }
            }
        }
        return usable;
    }

    /** Reference log-probs of every pair up front (precompute_ref_log_probs), with a progress bar. */
    private void precompute() throws Exception {
        int batch = config.perDeviceEvalBatchSize();
        int total = trainIndices.length + testIndices.length;
        long passesBefore = reference.forwardPasses();
        long scoredBefore = reference.pairsScored();
        long usable = 0;
        try (Progress progress = Progress.console("reference log-probs", total, 0, out)) {
            int done = 0;
            for (int[] indices : new int[][] {trainIndices, testIndices}) {
                PreferenceDataset source = indices == testIndices && evalDataset != null ? evalDataset : dataset;
                for (int from = 0; from < indices.length; from += batch) {
                    int[] rows = java.util.Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
                    List<PairEncoder.Encoded> pairs = encodeQuietly(source, rows);
                    usable += pairs.size();
                    reference.score(pairs, batch);
                    done += rows.length;
                    progress.update(done, "");
                }
            }
        }
        long computed = reference.pairsScored() - scoredBefore;
        out.printf("reference log-probs: %d pairs computed in %d forward passes, %d already cached%n", computed,
                reference.forwardPasses() - passesBefore, usable - computed);
        reference.release(); // every value is cached now: free the reference model's memory for training
    }

    /** Encodes without counting skips or truncations (the training pass counts them once). */
    private List<PairEncoder.Encoded> encodeQuietly(PreferenceDataset source, int[] rows) {
        List<PairEncoder.Encoded> usable = new ArrayList<>();
        for (PairEncoder.Outcome o : encoder.encode(source.get(rows))) {
            if (o instanceof PairEncoder.Encoded e) {
                usable.add(e);
            }
        }
        return usable;
    }

    private static String format(Map<String, Double> m) {
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> {
            if (k.endsWith("loss") || k.endsWith("accuracies") || k.endsWith("margins")) {
                b.append(k).append(' ').append(String.format(java.util.Locale.ROOT, "%.4f", v)).append("  ");
            }
        });
        return b.toString().strip();
    }

    @Override
    public void close() throws Exception {
        encoder.close();
        reference.close();
        dataset.close();
        if (evalDataset != null) {
            evalDataset.close();
        }
    }
}
