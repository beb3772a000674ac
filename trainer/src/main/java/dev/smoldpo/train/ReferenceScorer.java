package dev.smoldpo.train;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.smolvlm.DpoCollator;
import dev.smoldpo.model.smolvlm.DpoLayout;
import dev.smoldpo.model.smolvlm.SmolVlmInputs;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.FirstRunProfile;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import dev.smoldpo.runtime.PlacementCheck;
import dev.smoldpo.runtime.SharedInitializers;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Reference log-probs for encoded pairs: from the on-disk cache when present, else one forward
 * pass of reference_model.onnx (an inference session) whose results go into the cache.
 */
public final class ReferenceScorer implements AutoCloseable {
    private final Path referenceModel;
    private final int threads;
    private final boolean cuda;
    private final PlacementCheck placementCheck;
    private OrtSession session;
    private SharedInitializers.Lease weights; // held while the session is open
    private FirstRunProfile placement; // the check of the open session's first run
    private final ReferenceCache cache;
    private final DpoCollator collator;
    private final DpoLayout layout;
    private long forwardPasses;
    private long pairsScored;

    public ReferenceScorer(Path referenceModel, ReferenceCache cache, ModelConfig config, DpoLayout layout, int threads,
                           boolean cuda) throws OrtException {
        this(referenceModel, cache, config, layout, threads, cuda, PlacementCheck.forDevice(cuda));
    }

    /** As above with an explicit placement check of the reference session's first forward pass. */
    public ReferenceScorer(Path referenceModel, ReferenceCache cache, ModelConfig config, DpoLayout layout, int threads,
                           boolean cuda, PlacementCheck placementCheck) throws OrtException {
        this.referenceModel = referenceModel;
        this.threads = threads;
        this.cuda = cuda;
        this.placementCheck = placementCheck;
        this.cache = cache;
        this.collator = new DpoCollator(config);
        this.layout = layout;
    }

    /** Reference forward passes run so far (cache misses make them; hits do not). */
    public long forwardPasses() {
        return forwardPasses;
    }

    public long pairsScored() {
        return pairsScored;
    }

    /** The reference log-probs of each pair, in order. */
    public List<ReferenceCache.Logps> score(List<PairEncoder.Encoded> pairs, int batchSize) throws OrtException, SQLException {
        LinkedHashSet<String> hashes = new LinkedHashSet<>();
        pairs.forEach(p -> hashes.add(p.hash()));
        Map<String, ReferenceCache.Logps> known = new HashMap<>(cache.get(hashes));
        List<PairEncoder.Encoded> missing = new ArrayList<>();
        java.util.Set<String> queued = new java.util.HashSet<>(known.keySet());
        for (PairEncoder.Encoded p : pairs) {
            if (queued.add(p.hash())) {
                missing.add(p);
            }
        }
        for (int from = 0; from < missing.size(); from += batchSize) {
            List<PairEncoder.Encoded> batch = missing.subList(from, Math.min(missing.size(), from + batchSize));
            Map<String, ReferenceCache.Logps> fresh = forward(batch);
            cache.put(fresh);
            known.putAll(fresh);
        }
        List<ReferenceCache.Logps> out = new ArrayList<>();
        for (PairEncoder.Encoded p : pairs) {
            out.add(known.get(p.hash()));
        }
        return out;
    }

    /**
     * Closes the reference session (it holds a full copy of the base weights); a later cache miss
     * opens it again. Training calls this once every reference log-prob is cached.
     */
    public void release() throws OrtException {
        if (session != null) {
            session.close();
            session = null;
            weights.close();
            weights = null;
            placement.discard();
        }
    }

    private OrtSession session() throws OrtException {
        if (session == null) {
            try (OrtSession.SessionOptions options = dev.smoldpo.runtime.SessionSettings.options(threads, cuda)) {
                FirstRunProfile armed = FirstRunProfile.arm(placementCheck, options, referenceModel.getFileName().toString());
                // the weights' one copy, shared with a training session open on the same export
                weights = SharedInitializers.attachIfEnabled(options, List.of(referenceModel), cuda);
                try {
                    session = OrtRuntime.environment().createSession(referenceModel.toString(), options);
                } catch (OrtException | RuntimeException e) {
                    weights.close();
                    weights = null;
                    throw e;
                }
                placement = armed;
            }
        }
        return session;
    }

    private Map<String, ReferenceCache.Logps> forward(List<PairEncoder.Encoded> batch) throws OrtException {
        Map<String, TensorData> in = collator.collate(batch.stream().map(PairEncoder.Encoded::pair).toList(), layout);
        Map<String, OnnxTensor> feed = OrtTensors.of(OrtRuntime.environment(), in);
        Map<String, ReferenceCache.Logps> out = new HashMap<>();
        OrtSession s = session();
        try (OrtSession.Result r = s.run(feed, java.util.Set.of(SmolVlmInputs.CHOSEN_LOGPS, SmolVlmInputs.REJECTED_LOGPS))) {
            placement.afterRun(s);
            float[] chosen = OrtTensors.floats(r.get(SmolVlmInputs.CHOSEN_LOGPS).orElseThrow());
            float[] rejected = OrtTensors.floats(r.get(SmolVlmInputs.REJECTED_LOGPS).orElseThrow());
            for (int i = 0; i < batch.size(); i++) {
                out.put(batch.get(i).hash(), new ReferenceCache.Logps(chosen[i], rejected[i]));
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
        forwardPasses++;
        pairsScored += batch.size();
        return out;
    }

    @Override
    public void close() throws Exception {
        release();
        cache.close();
    }
}
