package dev.smoldpo.train;

import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.train.config.ArtifactSettings;
import dev.smoldpo.train.config.ResolvedConfig;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.train.config.TrainingPlan;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.MetricsPlots;
import dev.smoldpo.train.support.Progress;
import dev.smoldpo.train.support.RunCheckpoints;
import dev.smoldpo.train.support.RunFolder;
import dev.smoldpo.train.support.RunState;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * DPO training of the LoRA adapters: pairs of each step ({@link PairStream}) → reference log-probs
 * (cached) → micro-batches through ORT's trainStep and the native cross-check ({@link StepRunner}) →
 * optimizerStep, with evaluation on the held-out split ({@link Evaluator}), metrics ({@link
 * TrainLogger}) and resumable checkpoints. Whenever at least one step made an update, the run ends with
 * a final checkpoint, its plots and {@code summary.json}: at the last step, on Ctrl-C/SIGTERM ({@link
 * GracefulStop}), and when too many non-finite steps stop it ({@link TrainRun} says when a run without
 * any update fails instead).
 */
public final class DpoTrainer implements AutoCloseable {
    private final ResolvedConfig resolved;
    private final TrainConfig config;
    private final PrintStream out;
    private final Path artifacts;
    private final DpoData data;
    private final ReferenceScorer reference;
    private final StepRunner runner;
    private final Evaluator evaluator;
    private final int trainableTensors;
    private final Sections sections = new Sections();
    private long stopAfterStep;

    public DpoTrainer(ResolvedConfig resolved, Path artifacts, Path datasetFile, PrintStream out) throws Exception {
        this.resolved = resolved;
        this.config = resolved.config();
        this.out = out;
        this.artifacts = artifacts;
        Path manifestFile = artifacts.resolve(ArtifactFiles.MANIFEST);
        if (!Files.isRegularFile(manifestFile)) {
            throw new IllegalArgumentException("no artifacts in " + artifacts + " (manifest.json missing): run "
                    + "./tools/export-artifacts.sh first");
        }
        Manifest manifest = Manifest.read(manifestFile);
        ArtifactSettings.verify(config, manifest, manifestFile);
        this.trainableTensors = manifest.parameters().size();
        ModelConfig model = ModelConfig.load(artifacts);
        boolean cuda = config.device() == TrainConfig.Device.CUDA;
        this.data = new DpoData(config, artifacts, model, datasetFile, cuda);
        data.describeSources().forEach(out::println);
        Map<?, ?> source = (Map<?, ?>) manifest.extra().get("source");
        String referenceHash = source.get("weights_sha256") + ":" + source.get("config_sha256");
        try {
            this.reference = new ReferenceScorer(artifacts.resolve(SmolVlmExporter.REFERENCE),
                    new ReferenceCache(artifacts.resolve("reference_cache.duckdb"), referenceHash), model, config.layout(),
                    config.threads(), cuda);
        } catch (Exception e) {
            data.close();
            throw e;
        }
        this.runner = new StepRunner(config, model);
        this.evaluator = new Evaluator(data, reference, runner, config.perDeviceEvalBatchSize(), config.referenceFree());
    }

    /** Ends the run right after step {@code step}, as a kill there would (tests of resume); 0 = never. */
    public void stopAfter(long step) {
        this.stopAfterStep = step;
    }

    public ReferenceScorer reference() {
        return reference;
    }

    /**
     * Trains as configured and returns the summary; empty when a stop (Ctrl-C, SIGTERM) came before this
     * session's first step, which leaves nothing to save or sum up.
     */
    public Optional<FitSummary> fit() throws Exception {
        Path outputDir = config.outputDir();
        Optional<RunCheckpoints.Saved> resume = RunCheckpoints.resolveResume(config.resumeFromCheckpoint(), outputDir);
        // the stop is caught from here on, so that a signal during the reference pass ends the run cleanly too
        try (RunFolder folder = RunFolder.open(outputDir, resume.isPresent(), config.overwriteOutputDir());
             GracefulStop stop = new GracefulStop(out)) {
            Optional<TrainConfig> folderConfig = resume.isPresent() ? ResumeWarning.readFolderConfig(outputDir)
                    : Optional.empty();
            resolved.save(outputDir.resolve("train_config.json"));
            Path optimizer = outputDir.resolve("optimizer_model.onnx");
            ArtifactBuilder.writeOptimizer(config.adamWConfig(), trainableTensors, optimizer);
            TrainingPlan plan = config.plan(data.trainIndices().length);
            // a resumed run's later checkpoints are trained with this session's settings, and say so
            RunState state = resume.map(r -> r.state().withConfigHash(config.hash()))
                    .orElse(RunState.initial(config.effectiveDataSeed(), plan.totalSteps(), config.hash()));
            resume.ifPresent(r -> out.printf("resuming from %s (step %d of %d)%s%n", r.dir(), r.step(), plan.totalSteps(),
                    ResumeWarning.of(r, folderConfig, config)));
            out.printf("training %d pairs (%d held out) for %d optimizer steps of %d x %d pairs; layout %s; output %s%n",
                    data.trainIndices().length, data.testIndices().length, plan.totalSteps(), config.perDeviceTrainBatchSize(),
                    config.gradientAccumulationSteps(), config.layout().configName(), outputDir);
            if (config.precomputeRefLogProbs() && !config.referenceFree()) {
                precompute(stop);
            }
            if (stop.requested()) {
                return stoppedBeforeFirstStep(resume);
            }
            Path start = resume.map(RunCheckpoints.Saved::ortCheckpoint).orElse(artifacts.resolve(ArtifactFiles.CHECKPOINT));
            try (TrainingSession session = TrainingSession.open(artifacts.resolve(ArtifactFiles.TRAINING),
                    artifacts.resolve(ArtifactFiles.EVAL), optimizer, start, config.threads(),
                    config.device() == TrainConfig.Device.CUDA);
                 MetricsLog metrics = resume.isPresent() ? MetricsLog.openForResume(outputDir, state.globalStep())
                         : MetricsLog.create(outputDir);
                 Progress progress = Progress.console("fit", plan.totalSteps(), state.globalStep(), out)) {
                TrainRun run = new TrainRun(config, plan, new PairStream(data, plan, config.effectiveDataSeed()), reference,
                        runner, evaluator, sections, new RunCheckpoints(outputDir, config.saveTotalLimit(), resolved.toJson()),
                        new TrainLogger(metrics, progress, config.loggingSteps(), config.loggingFirstStep()), data);
                TrainRun.Result result = run.loop(session, state, stop, stopAfterStep);
                if (result.ending().equals(TrainRun.INTERRUPTED) && result.state().globalStep() == state.globalStep()) {
                    return stoppedBeforeFirstStep(resume);
                }
                MetricsPlots.writeOrWarn(outputDir, out);
                FitSummary summary = summary(result, outputDir,
                        session.traffic().toMap(result.state().globalStep() - state.globalStep()));
                summary.write(outputDir.resolve("summary.json"));
                if (result.failure() != null) {
                    throw result.failure();
                }
                return Optional.of(summary);
            }
        }
    }

    /**
     * No step of this session completed: no checkpoint, plots nor summary. What the folder holds then
     * (the settings, at most the evaluation before training) does not make it a run ({@link
     * RunFolder#previousRun}), so a plain rerun into it starts afresh.
     */
    private Optional<FitSummary> stoppedBeforeFirstStep(Optional<RunCheckpoints.Saved> resume) {
        out.println("stopped before the first step: nothing to save"
                + resume.map(r -> "; the run is still at " + r.dir()).orElse(""));
        return Optional.empty();
    }

    private FitSummary summary(TrainRun.Result result, Path outputDir, Map<String, Object> hostDeviceBytes) {
        Map<String, Object> skipped = new LinkedHashMap<>(data.skipped().toMap());
        skipped.put("nonfinite_steps", result.state().skipped("nonfinite_steps"));
        skipped.put("empty_steps", result.state().skipped("empty_steps"));
        return new FitSummary(result.state().globalStep(), result.ending(), result.firstEval(), result.lastEval(), skipped,
                reference.forwardPasses(), reference.pairsScored(), data.truncated(), result.state().trainSeconds(),
                sections.snapshot(), result.state().pairsSeen(), result.state().tokensSeen(), outputDir, hostDeviceBytes);
    }

    /**
     * The metrics of a saved checkpoint (an ORT checkpoint file, or a checkpoint-N folder) on a split:
     * "test" (the held-out pairs), "train" or "all".
     */
    public Map<String, Double> evaluateCheckpoint(Path checkpoint, String split) throws Exception {
        DpoData.Split which = split(split);
        Path ort = Files.isDirectory(checkpoint) ? RunCheckpoints.load(checkpoint).ortCheckpoint() : checkpoint;
        try (TrainingSession session = TrainingSession.open(artifacts.resolve(ArtifactFiles.TRAINING),
                artifacts.resolve(ArtifactFiles.EVAL), artifacts.resolve(ArtifactFiles.OPTIMIZER), ort, config.threads(),
                config.device() == TrainConfig.Device.CUDA)) {
            Evaluator.Result result = evaluator.evaluate(session, which);
            if (result.metrics().isEmpty()) {
                int rows = data.indices(which).length;
                throw new IllegalStateException("no pair of the " + split + " split (" + rows + " rows) could be evaluated: "
                        + result.whyEmpty(rows, "pairs", Set.of()));
            }
            return result.metrics();
        }
    }

    /** The dataset a split's pairs come from: eval_dataset for "test" when set, else the training dataset. */
    public Path datasetOf(String split) {
        return data.source(split(split)).file();
    }

    private static DpoData.Split split(String split) {
        return switch (split) {
            case "test" -> DpoData.Split.TEST;
            case "train" -> DpoData.Split.TRAIN;
            case "all" -> DpoData.Split.ALL;
            default -> throw new IllegalArgumentException("unknown split '" + split + "': use test, train or all");
        };
    }

    /** Reference log-probs of every pair up front (precompute_ref_log_probs), with a progress bar, until a stop. */
    private void precompute(GracefulStop stop) throws Exception {
        int batch = config.perDeviceEvalBatchSize();
        long passesBefore = reference.forwardPasses();
        long scoredBefore = reference.pairsScored();
        long usable = 0;
        try (Progress progress = Progress.console("reference log-probs",
                data.trainIndices().length + data.testIndices().length, 0, out)) {
            int done = 0;
            for (DpoData.Split split : List.of(DpoData.Split.TRAIN, DpoData.Split.TEST)) {
                int[] indices = data.indices(split);
                for (int from = 0; from < indices.length && !stop.requested(); from += batch) {
                    int[] rows = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
                    List<PairEncoder.Encoded> pairs = data.encodeQuietly(split, rows).usable();
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

    @Override
    public void close() throws Exception {
        try {
            reference.close();
        } finally {
            data.close();
        }
    }
}
