package dev.smoldpo.train;

import dev.smoldpo.train.support.MetricsLog;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** DPO metrics (TRL's names, {@code eval_}-prefixed) of the current adapters on a split, in eval batches. */
final class Evaluator {
    private final DpoData data;
    private final ReferenceScorer reference;
    private final StepRunner runner;
    private final int batch;
    private final boolean referenceFree;

    Evaluator(DpoData data, ReferenceScorer reference, StepRunner runner, int batch, boolean referenceFree) {
        this.data = data;
        this.reference = reference;
        this.runner = runner;
        this.batch = batch;
        this.referenceFree = referenceFree;
    }

    /** The metrics on {@code split}; empty when no pair of it could be scored. */
    Map<String, Double> evaluate(TrainingSession session, DpoData.Split split) throws Exception {
        int[] indices = data.indices(split);
        DpoMetrics metrics = new DpoMetrics();
        for (int from = 0; from < indices.length; from += batch) {
            int[] rows = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
            List<PairEncoder.Encoded> pairs = data.encode(split, rows);
            if (pairs.isEmpty()) {
                continue;
            }
            List<ReferenceCache.Logps> refs = referenceFree ? null : reference.score(pairs, batch);
            StepRunner.Outcome o = runner.eval(session, pairs, refs);
            if (o.finite()) {
                metrics.addAll(o.metrics());
            } else {
                data.countEvalNonFinite(pairs.size());
            }
        }
        return metrics.toMap(MetricsLog.EVAL_PREFIX);
    }
}
