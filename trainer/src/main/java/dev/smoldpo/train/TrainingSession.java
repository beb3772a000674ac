package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtTrainingSession;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.PlacementCheck;
import dev.smoldpo.runtime.SessionSettings;
import dev.smoldpo.runtime.SharedInitializers;
import dev.smoldpo.runtime.TrainingPlacementProbe;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An ORT training session over an artifacts folder, with the step protocol of the artifact
 * contract: {@code lazyResetGrad(); trainStep(micro) × k; optimizerStep()}.
 */
public final class TrainingSession implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final SharedInitializers.Lease weights;
    private final OrtTrainingSession session;
    /** The placement check still to run at the first train or eval step (null once done, or when it is off). */
    private Probe probe;
    private final HostDeviceTraffic traffic = new HostDeviceTraffic();

    /** What {@link TrainingPlacementProbe} needs to open a second session like this one. */
    private record Probe(PlacementCheck check, Path training, Path eval, Path optimizer, Path checkpoint, int threads, boolean cuda,
                         boolean shareWeights) {}

    private TrainingSession(OrtEnvironment env, OrtSession.SessionOptions options, SharedInitializers.Lease weights,
                            OrtTrainingSession session, Probe probe) {
        this.env = env;
        this.options = options;
        this.weights = weights;
        this.session = session;
        this.probe = probe;
    }

    /** Opens the artifacts with {@code checkpoint} (the export's own, or a saved one). */
    public static TrainingSession open(ArtifactFiles files, Path checkpoint, int threads) throws OrtException {
        return open(files, checkpoint, threads, false);
    }

    /** As above, on ORT's CUDA execution provider when {@code cuda}. */
    public static TrainingSession open(ArtifactFiles files, Path checkpoint, int threads, boolean cuda) throws OrtException {
        return open(files.training(), files.eval(), files.optimizer(), checkpoint, threads, cuda);
    }

    /**
     * Opens the given graphs; {@code cuda} selects ORT's CUDA execution provider (device 0), with the
     * placement check {@link PlacementCheck#ENV} asks for.
     */
    public static TrainingSession open(Path training, Path eval, Path optimizer, Path checkpoint, int threads, boolean cuda)
            throws OrtException {
        return open(training, eval, optimizer, checkpoint, threads, cuda, PlacementCheck.forDevice(cuda));
    }

    /**
     * As above with an explicit placement check: when active, the inputs of the first train or eval
     * step first run through a profiled second session ({@link TrainingPlacementProbe}) to see where
     * ORT placed each node of the three graphs.
     */
    public static TrainingSession open(Path training, Path eval, Path optimizer, Path checkpoint, int threads, boolean cuda,
                                       PlacementCheck check) throws OrtException {
        return open(training, eval, optimizer, checkpoint, threads, cuda, check, SharedInitializers.enabled(cuda));
    }

    /**
     * As above; {@code shareWeights} hands the frozen weights to the sessions as one shared copy
     * ({@link SharedInitializers}) instead of letting each of ORT's sessions load its own.
     */
    public static TrainingSession open(Path training, Path eval, Path optimizer, Path checkpoint, int threads, boolean cuda,
                                       PlacementCheck check, boolean shareWeights) throws OrtException {
        OrtEnvironment env = OrtRuntime.environment();
        OrtSession.SessionOptions options = SessionSettings.options(threads, cuda);
        SessionSettings.lowerPeakMemory(options);
        // the training and eval sessions (and any other session on these weights) read one copy of them
        SharedInitializers.Lease weights = null;
        OrtTrainingSession s;
        try {
            weights = SharedInitializers.attachIf(shareWeights, options, List.of(training, eval), cuda);
            s = env.createTrainingSession(checkpoint.toString(), training.toString(), eval.toString(), optimizer.toString(),
                    options);
        } catch (OrtException | RuntimeException e) {
            if (weights != null) {
                weights.close();
            }
            options.close();
            throw e;
        }
        Probe probe = check.active() ? new Probe(check, training, eval, optimizer, checkpoint, threads, cuda, shareWeights) : null;
        return new TrainingSession(env, options, weights, s, probe);
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

    /** The bytes fed and fetched by this session's steps (host↔device transfers on a GPU). */
    public HostDeviceTraffic traffic() {
        return traffic;
    }

    /** Runs a train step and returns every returned output as float arrays, by name. */
    public Map<String, float[]> trainStep(Map<String, OnnxTensor> inputs) throws OrtException {
        Map<String, OnnxTensor> feed = inGraphOrder(inputs, session.getTrainInputNames());
        checkPlacement(feed);
        try (OrtSession.Result r = session.trainStep(feed)) {
            traffic.recordTrain(feed, r);
            return floatsOf(r);
        }
    }

    /**
     * The placement check, once, at the first train or eval step: its inputs run the graphs whose
     * inputs they cover through a profiled copy of this session.
     */
    private void checkPlacement(Map<String, OnnxTensor> inputs) throws OrtException {
        if (probe == null) {
            return;
        }
        Probe p = probe;
        probe = null;
        OrtSession.SessionOptions probeOptions = SessionSettings.options(p.threads(), p.cuda());
        SessionSettings.lowerPeakMemory(probeOptions);
        try (SharedInitializers.Lease probeWeights = SharedInitializers.attachIf(p.shareWeights(), probeOptions,
                List.of(p.training(), p.eval()), p.cuda())) {
            TrainingPlacementProbe.run(p.check(), probeOptions, p.training(), p.eval(), p.optimizer(), p.checkpoint(),
                    covering(inputs, session.getTrainInputNames()), covering(inputs, session.getEvalInputNames()));
        }
    }

    /** {@code inputs} restricted to {@code names} in graph order, or null when some name is missing. */
    private static Map<String, OnnxTensor> covering(Map<String, OnnxTensor> inputs, java.util.Set<String> names) {
        return inputs.keySet().containsAll(names) ? inGraphOrder(subset(inputs, names), names) : null;
    }

    private static Map<String, OnnxTensor> subset(Map<String, OnnxTensor> inputs, java.util.Set<String> names) {
        Map<String, OnnxTensor> out = new HashMap<>();
        names.forEach(n -> out.put(n, inputs.get(n)));
        return out;
    }

    public Map<String, float[]> evalStep(Map<String, OnnxTensor> inputs) throws OrtException {
        Map<String, OnnxTensor> feed = inGraphOrder(inputs, session.getEvalInputNames());
        checkPlacement(feed);
        try (OrtSession.Result r = session.evalStep(feed)) {
            traffic.recordEval(feed, r);
            return floatsOf(r);
        }
    }

    /**
     * Fails when the training or eval graph has an output outside {@code used}: ORT's training API
     * fetches every output of the graph on every step, to the host, so an output the loop does not read
     * would still be copied from the GPU each step. Its C TrainStep/EvalStep take no output names: with
     * 1.28, asking Java's trainStep for a subset fails ("fetch names has 3 elements, but fetch has 1
     * elements"), and asking for all of them in another order than the graph's mislabels them (they are
     * matched by position), which is why {@link #trainStep} always takes all of them.
     */
    public void requireOnlyOutputs(java.util.Set<String> used) {
        for (java.util.Set<String> graph : java.util.List.of(session.getTrainOutputNames(), session.getEvalOutputNames())) {
            for (String name : graph) {
                if (!used.contains(name)) {
                    throw new IllegalStateException("the artifacts' graphs output '" + name + "', which training does "
                            + "not read (it reads " + used + "); every output is copied to the host on every step: "
                            + "export the artifacts again with ./tools/export-artifacts.sh");
                }
            }
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
        try {
            session.close();
            options.close();
        } finally {
            weights.close();
        }
    }
}
