package dev.smoldpo.grpo;

import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.grpo.reward.GroupAdvantages;
import dev.smoldpo.grpo.reward.Reward;
import dev.smoldpo.grpo.sampling.LivePolicySampler;
import dev.smoldpo.grpo.sampling.SampledGroup;
import dev.smoldpo.grpo.sampling.TrainingParameters;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.train.config.ArtifactSettings;
import dev.smoldpo.train.config.LrSchedule;
import dev.smoldpo.train.config.TrainConfig;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.train.GracefulStop;
import dev.smoldpo.train.TrainingSession;
import dev.smoldpo.train.support.MetricsLog;
import dev.smoldpo.train.support.RunCheckpoints;
import dev.smoldpo.train.support.RunFolder;
import dev.smoldpo.train.support.RunState;
import dev.smoldpo.train.support.Rng;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The GRPO loop (TRL's GRPOTrainer): per step, the next prompts in a seeded order, G completions each
 * from the live policy ({@link LivePolicySampler}, its adapters refreshed from the training session after
 * every update), rewards and group advantages, then {@link GrpoStepRunner}'s updates. A step is one sampled
 * batch (with num_iterations updates from it). Prompt order and every group's sampling seed derive from
 * seed and step alone, and checkpoints hold the adapters with the optimizer state, so a resumed run samples
 * and trains exactly as the uninterrupted one. With device cuda, the training, reference and sampling
 * sessions all run on ORT's CUDA execution provider. A failing reward saves a checkpoint of the last completed
 * step before the error is reported.
 */
public final class GrpoTrainer {
    /** The run's settings with their sources, in its folder (what a resume continues with). */
    public static final String CONFIG_FILE = "grpo_config.json";
    private final GrpoConfig c;
    private final GrpoMetrics metrics;
    private final PrintStream out;
    private long stopAfter;

    public GrpoTrainer(GrpoConfig config, PrintStream out) {
        this.c = config;
        this.out = out;
        this.metrics = new GrpoMetrics(config);
    }

    /** Ends the run right after step {@code step}'s checkpoint, as if it had been killed there (tests of resume). */
    public void stopAfter(long step) {
        this.stopAfter = step;
    }

    /** Runs to max_steps (or a stop); returns the greedy held-out accuracy at each evaluation, by step. */
    public Map<Long, Double> train(Path artifactsDir, List<GrpoPrompt> train, List<GrpoPrompt> heldOut,
                                   String configJson) throws Exception {
        ArtifactFiles files = new ArtifactFiles(artifactsDir);
        checkArtifacts(files);
        if (c.cuda()) {
            OrtRuntime.enableCuda(); // a missing CUDA library is named before the run folder is touched
        }
        Optional<RunCheckpoints.Saved> resume = RunCheckpoints.resolveResume(c.resumeFromCheckpoint(), c.outputDir());
        try (RunFolder folder = RunFolder.open(c.outputDir(), resume.isPresent(), c.overwriteOutputDir());
             TrainingSession session = TrainingSession.open(files, resume.map(s -> s.dir().resolve(RunCheckpoints.ORT_FILE))
                     .orElse(files.checkpoint()), c.threads(), c.cuda());
             // under CUDA the two training sessions read one device copy of the frozen weights (SharedInitializers)
             TrainingSession reference = c.beta() > 0 ? TrainingSession.open(files, files.checkpoint(), c.threads(), c.cuda()) : null;
             LivePolicySampler sampler = LivePolicySampler.open(artifactsDir, c.threads(), c.cuda());
             MetricsLog log = resume.isPresent() ? MetricsLog.openForResume(c.outputDir(), resume.get().step())
                     : MetricsLog.create(c.outputDir());
             GracefulStop stop = new GracefulStop(out)) {
            Files.writeString(c.outputDir().resolve(CONFIG_FILE), configJson);
            List<TrainingParameters.Spec> specs = Manifest.read(files.manifest()).parameters().stream()
                    .map(p -> new TrainingParameters.Spec(p.name(), p.shape().stream().mapToLong(Long::parseLong).toArray()))
                    .toList();
            sampler.updateAdapters(TrainingParameters.read(session.ort(), specs));
            LrSchedule schedule = c.schedule();
            RunCheckpoints checkpoints = new RunCheckpoints(c.outputDir(), c.saveTotalLimit());
            GrpoStepRunner runner = new GrpoStepRunner(c, ModelConfig.load(artifactsDir), session, reference);
            GrpoEvaluator evaluator = new GrpoEvaluator(heldOut, c);
            RunState state = resume.map(RunCheckpoints.Saved::state).orElse(RunState.initial(c.seed(), c.maxSteps(), ""));
            List<Reward> rewards = GrpoRewards.of(c, Path.of("").toAbsolutePath());
            try {
                if (resume.isEmpty()) {
                    metrics.logEval(log, 0, 0.0, evaluator.accuracy(sampler), out);
                }
                for (long step = state.globalStep() + 1; step <= c.maxSteps(); step++) {
                    List<GrpoStepRunner.ScoredGroup> groups;
                    long t0 = System.nanoTime();
                    List<GrpoPrompt> prompts = promptsOf(train, step);
                    List<SampledGroup> sampled = new ArrayList<>();
                    for (int k = 0; k < prompts.size(); k++) {
                        sampled.add(sampler.sample(prompts.get(k).encoded(), c.sampling(), step * 1_000_003L + k));
                    }
                    long t1 = System.nanoTime();
                    try {
                        groups = score(rewards, prompts, sampled, step);
                    } catch (Exception e) {
                        Path saved = save(checkpoints, state, session);
                        throw new GrpoException("step " + step + ": reward failed: " + e.getMessage()
                                + "; the run's state after step " + state.globalStep() + " is saved in " + saved
                                + " (resume with --resume once the reward works)", e);
                    }
                    long t2 = System.nanoTime();
                    // one rate for the num_iterations updates of a sampled batch (HF's exactly when it is 1)
                    double lr = schedule.lr((step - 1) * c.numIterations());
                    session.ort().setLearningRate((float) lr);
                    GrpoStepRunner.Result r = runner.run(groups);
                    sampler.updateAdapters(TrainingParameters.read(session.ort(), specs));
                    long t3 = System.nanoTime();
                    long promptsSeen = state.pairsSeen() + prompts.size();
                    double epoch = (double) promptsSeen / train.size(); // HF's fractional epoch over the training prompts
                    state = state.afterStep(step, epoch, promptsSeen / train.size(), 0, step, promptsSeen,
                            state.tokensSeen() + r.completionTokens(), state.trainSeconds() + (t3 - t0) / 1e9);
                    metrics.add(step, groups, r, lr, (t1 - t0) / 1e9, (t3 - t2) / 1e9);
                    if (step % c.loggingSteps() == 0 || step == c.maxSteps()) {
                        metrics.log(log, step, epoch, out);
                    }
                    if (c.evalSteps() > 0 && step % c.evalSteps() == 0 || step == c.maxSteps()) {
                        metrics.logEval(log, step, epoch, evaluator.accuracy(sampler), out);
                    }
                    boolean stopping = stop.requested() || step == stopAfter;
                    if (step % c.saveSteps() == 0 || step == c.maxSteps() || stopping) {
                        out.println("checkpoint: " + save(checkpoints, state, session));
                    }
                    if (stopping) {
                        break;
                    }
                }
            } finally {
                GrpoRewards.closeAll(rewards);
            }
            metrics.plots(c.outputDir());
            return metrics.accuracyCurve(c.outputDir());
        }
    }

    private static Path save(RunCheckpoints checkpoints, RunState state, TrainingSession session) throws Exception {
        return checkpoints.save(state.globalStep(), state, path -> session.ort().saveCheckpoint(path, true));
    }

    /** The step's prompts: consecutive positions of a seeded permutation per pass over the prompts. */
    private List<GrpoPrompt> promptsOf(List<GrpoPrompt> train, long step) {
        int perStep = c.promptsPerMicroBatch() * c.gradientAccumulationSteps();
        List<GrpoPrompt> out = new ArrayList<>();
        for (int k = 0; k < perStep; k++) {
            long position = (step - 1) * perStep + k;
            int[] order = Rng.epochPermutation(c.seed(), position / train.size(), train.size());
            out.add(train.get(order[(int) (position % train.size())]));
        }
        return out;
    }

    private List<GrpoStepRunner.ScoredGroup> score(List<Reward> rewards, List<GrpoPrompt> prompts,
                                                   List<SampledGroup> sampled, long step) throws Exception {
        List<Reward.Sample> samples = new ArrayList<>();
        for (int k = 0; k < prompts.size(); k++) {
            for (String text : sampled.get(k).completionTexts()) {
                samples.add(new Reward.Sample(prompts.get(k).text(), text, prompts.get(k).row()));
            }
        }
        List<double[]> perReward = new ArrayList<>();
        for (Reward r : rewards) {
            double[] s;
            try {
                s = r.score(samples);
            } catch (Exception e) {
                throw new java.io.IOException("reward '" + r.name() + "': " + e.getMessage(), e);
            }
            if (s.length != samples.size()) {
                throw new IllegalStateException("reward '" + r.name() + "' gave " + s.length + " scores for " + samples.size()
                        + " completions");
            }
            perReward.add(s);
        }
        GroupAdvantages.Result adv = GroupAdvantages.of(perReward, c.weights(), c.numGenerations(), c.scale());
        metrics.rewards(rewards, perReward, adv);
        List<GrpoStepRunner.ScoredGroup> groups = new ArrayList<>();
        int g = c.numGenerations();
        for (int k = 0; k < prompts.size(); k++) {
            groups.add(new GrpoStepRunner.ScoredGroup(prompts.get(k), sampled.get(k),
                    java.util.Arrays.copyOfRange(adv.advantages(), k * g, (k + 1) * g)));
        }
        return groups;
    }

    /** GRPO artifacts, with the KL term exactly when β > 0. */
    private void checkArtifacts(ArtifactFiles files) {
        if (!Files.isRegularFile(files.manifest())) {
            throw new IllegalArgumentException("no artifacts in " + files.dir() + " (manifest.json missing): run "
                    + "export-artifacts --loss grpo first");
        }
        Manifest manifest = Manifest.read(files.manifest());
        Map<String, Object> extra = manifest.extra();
        if (!"grpo".equals(extra.get("objective"))) {
            throw new IllegalArgumentException(files.dir() + " holds DPO artifacts; export them with --loss grpo");
        }
        boolean kl = Boolean.TRUE.equals(((Map<?, ?>) extra.get("grpo")).get("kl"));
        if (kl != c.beta() > 0) {
            throw new IllegalArgumentException("beta is " + c.beta() + " but the artifacts in " + files.dir()
                    + (kl ? " have the KL term (beta must be > 0, or re-export without --kl)"
                          : " have no KL term (export them with --kl for beta > 0)"));
        }
        // half-precision training graphs cannot run on the CPU: say so before any session opens
        ArtifactSettings.requireDevice(c.cuda() ? TrainConfig.Device.CUDA : TrainConfig.Device.CPU, manifest, files.manifest());
    }
}
