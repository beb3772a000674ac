package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.model.toy.ToyLoraMlp;
import dev.smoldpo.model.toy.ToyTask;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.Map;

/**
 * Trains the toy LoRA MLP from an artifacts folder: the main job until the SmolVLM pieces land,
 * and a smoke test of the whole stack (Java-built artifacts, ORT training API, checkpoints).
 */
public final class ToyTrainer {
    /** Settings of a toy run. */
    public record Settings(int steps, int batchSize, int gradientAccumulation, float learningRate, int threads,
                           int loggingSteps, long seed) {}

    /** What a run ends with. */
    public record Result(float initialEvalLoss, float finalEvalLoss, double secondsPerStep) {}

    private final ToyLoraMlp model;
    private final ToyTask task;

    public ToyTrainer(ToyLoraMlp model, long taskSeed) {
        this.model = model;
        this.task = new ToyTask(model, taskSeed);
    }

    public Result fit(ArtifactFiles files, Settings s, PrintStream log) throws OrtException {
        ToyTask.Batch held = task.batch(256, s.seed() ^ 0xE7A1L);
        try (TrainingSession session = TrainingSession.open(files, files.checkpoint(), s.threads())) {
            session.ort().setLearningRate(s.learningRate());
            float initial = evalLoss(session, held);
            log.printf("step %5d  eval_loss %.5f%n", 0, initial);
            long start = System.nanoTime();
            for (int step = 1; step <= s.steps(); step++) {
                session.ort().lazyResetGrad();
                float loss = 0;
                for (int micro = 0; micro < s.gradientAccumulation(); micro++) {
                    ToyTask.Batch b = task.batch(s.batchSize(), s.seed() * 1_000_003L + step * 131L + micro);
                    loss += step(session, b, true);
                }
                session.ort().optimizerStep();
                if (step % s.loggingSteps() == 0 || step == s.steps()) {
                    log.printf("step %5d  loss %.5f  eval_loss %.5f%n", step, loss / (s.batchSize() * s.gradientAccumulation()),
                            evalLoss(session, held));
                }
            }
            double secondsPerStep = (System.nanoTime() - start) / 1e9 / s.steps();
            float last = evalLoss(session, held);
            session.ort().saveCheckpoint(files.dir().resolve("trained_checkpoint"), true);
            return new Result(initial, last, secondsPerStep);
        }
    }

    /** Mean loss per example on a held-out batch. */
    private float evalLoss(TrainingSession session, ToyTask.Batch b) throws OrtException {
        return step(session, b, false) / b.size();
    }

    private float step(TrainingSession session, ToyTask.Batch b, boolean train) throws OrtException {
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put(ToyLoraMlp.INPUT, session.floats(b.x(), b.size(), model.dims().in()));
            in.put(ToyLoraMlp.TARGET, session.floats(b.target(), b.size(), model.dims().out()));
            return (train ? session.trainStep(in) : session.evalStep(in)).get("loss")[0];
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }
}
