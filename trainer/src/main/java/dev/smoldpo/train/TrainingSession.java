package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtTrainingSession;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.runtime.OrtRuntime;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * An ORT training session over an artifacts folder, with the step protocol of the artifact
 * contract: {@code lazyResetGrad(); trainStep(micro) × k; optimizerStep()}.
 */
public final class TrainingSession implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final OrtTrainingSession session;

    private TrainingSession(OrtEnvironment env, OrtSession.SessionOptions options, OrtTrainingSession session) {
        this.env = env;
        this.options = options;
        this.session = session;
    }

    /** Opens the artifacts with {@code checkpoint} (the export's own, or a saved one). */
    public static TrainingSession open(ArtifactFiles files, Path checkpoint, int threads) throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        if (threads > 0) {
            options.setIntraOpNumThreads(threads);
        }
        OrtTrainingSession s = env.createTrainingSession(checkpoint.toString(), files.training().toString(),
                files.eval().toString(), files.optimizer().toString(), options);
        return new TrainingSession(env, options, s);
    }

    public OrtEnvironment env() {
        return env;
    }

    public OrtTrainingSession ort() {
        return session;
    }

    public OnnxTensor floats(float[] data, long... shape) throws OrtException {
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape);
    }

    /** Runs a train step and returns every returned output as float arrays, by name. */
    public Map<String, float[]> trainStep(Map<String, OnnxTensor> inputs) throws OrtException {
        try (OrtSession.Result r = session.trainStep(inputs)) {
            return floatsOf(r);
        }
    }

    public Map<String, float[]> evalStep(Map<String, OnnxTensor> inputs) throws OrtException {
        try (OrtSession.Result r = session.evalStep(inputs)) {
            return floatsOf(r);
        }
    }

    private static Map<String, float[]> floatsOf(OrtSession.Result r) {
        Map<String, float[]> out = new HashMap<>();
        for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
            OnnxTensor t = (OnnxTensor) e.getValue();
            FloatBuffer b = t.getFloatBuffer();
            float[] v = new float[b.remaining()];
            b.get(v);
            out.put(e.getKey(), v);
        }
        return out;
    }

    @Override
    public void close() throws OrtException {
        session.close();
        options.close();
    }
}
