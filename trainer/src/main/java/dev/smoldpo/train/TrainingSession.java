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
        return open(files.training(), files.eval(), files.optimizer(), checkpoint, threads, false);
    }

    /** Opens the given graphs; {@code cuda} selects ORT's CUDA execution provider (device 0). */
    public static TrainingSession open(Path training, Path eval, Path optimizer, Path checkpoint, int threads, boolean cuda)
            throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        OrtSession.SessionOptions options = sessionOptions(threads, cuda);
        lowerPeakMemory(options);
        OrtTrainingSession s = env.createTrainingSession(checkpoint.toString(), training.toString(), eval.toString(),
                optimizer.toString(), options);
        return new TrainingSession(env, options, s);
    }

    /**
     * Training keeps the activations of a whole forward pass for the backward pass, and ORT's
     * defaults add to that peak: the memory-pattern planner pre-allocates a block shaped after the
     * first run next to what the arena already holds, and the CPU arena keeps freed chunks (grown
     * in powers of two) for reuse. Measured at SmolVLM-256M shapes (bench-export, one pair with a
     * 512 tile and 400 text tokens, 2 cores): defaults 6.9 GiB peak RSS and 5.1 s per step; both off
     * 4.6 GiB and 6.2 s. SMOLDPO_CPU_ARENA=1 / SMOLDPO_MEM_PATTERN=1 switch them back on.
     */
    static void lowerPeakMemory(OrtSession.SessionOptions options) throws OrtException {
        if (!"1".equals(System.getenv("SMOLDPO_MEM_PATTERN"))) {
            options.setMemoryPatternOptimization(false);
        }
        if (!"1".equals(System.getenv("SMOLDPO_CPU_ARENA"))) {
            options.setCPUArenaAllocator(false);
        }
    }

    /** Session options for {@code threads} (0 = ORT's default) and CPU or CUDA, failing clearly when CUDA is absent. */
    public static OrtSession.SessionOptions sessionOptions(int threads, boolean cuda) throws OrtException {
        OrtRuntime.environment(); // the first ORT class to load decides the native library: wire ours first
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        if (threads > 0) {
            options.setIntraOpNumThreads(threads);
        }
        if (cuda) {
            try {
                options.addCUDA(0);
            } catch (OrtException | RuntimeException e) {
                options.close();
                throw new IllegalStateException("--device cuda: ONNX Runtime's CUDA execution provider is not available ("
                        + e.getMessage() + "). It needs an NVIDIA GPU, the -Port-gpu build of trainer.jar, and CUDA 13 "
                        + "with cuDNN 9 on LD_LIBRARY_PATH; use --device cpu otherwise", e);
            }
        }
        return options;
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
        try (OrtSession.Result r = session.trainStep(inGraphOrder(inputs, session.getTrainInputNames()))) {
            return floatsOf(r);
        }
    }

    public Map<String, float[]> evalStep(Map<String, OnnxTensor> inputs) throws OrtException {
        try (OrtSession.Result r = session.evalStep(inGraphOrder(inputs, session.getEvalInputNames()))) {
            return floatsOf(r);
        }
    }

    /**
     * ORT's training API binds the fed tensors by position, not by name (1.28's Java trainStep
     * passes the map's values in iteration order), so feed them in the graph's input order, and
     * name any missing or unexpected input here rather than letting ORT misread a tensor.
     */
    static Map<String, OnnxTensor> inGraphOrder(Map<String, OnnxTensor> inputs, java.util.Set<String> graphInputs) {
        Map<String, OnnxTensor> ordered = new java.util.LinkedHashMap<>();
        for (String name : graphInputs) {
            OnnxTensor t = inputs.get(name);
            if (t == null) {
                throw new IllegalArgumentException("input '" + name + "' is missing (the graph takes " + graphInputs + ")");
            }
            ordered.put(name, t);
        }
        for (String name : inputs.keySet()) {
            if (!graphInputs.contains(name)) {
                throw new IllegalArgumentException("the graph has no input '" + name + "' (it takes " + graphInputs + ")");
            }
        }
        return ordered;
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
