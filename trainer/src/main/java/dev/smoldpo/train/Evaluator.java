package dev.smoldpo.train;

import dev.smoldpo.train.support.MetricsLog;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

    /**
     * An evaluation: the metrics (empty when no pair could be scored), the pairs left out with why, and
     * the pairs whose batch had a non-finite loss.
     */
    record Result(Map<String, Double> metrics, UnusablePairs unusable, long nonFinitePairs) {
        /**
         * Why there are no metrics, e.g. "none of the 52 held-out pairs was usable: 52 pairs prompt_too_long (...)".
         *
         * @param rows      the rows evaluated
         * @param pairs     what they are called, e.g. "held-out pairs"
         * @param explained skip reasons an earlier message told in full (see {@link UnusablePairs#describe(Set)})
         */
        String whyEmpty(int rows, String pairs, Set<String> explained) {
            if (rows == 0) {
                return "there are no " + pairs + " to evaluate";
            }
            if (unusable.total() == rows) {
                return "none of the " + rows + " " + pairs + " was usable: " + unusable.describe(explained);
            }
            return "every batch of usable " + pairs + " had a non-finite loss (" + nonFinitePairs + " pairs)"
                    + (unusable.isEmpty() ? "" : "; the others were unusable: " + unusable.describe(explained));
        }
    }

    /** The metrics on {@code split}, with what was left out. */
    Result evaluate(TrainingSession session, DpoData.Split split) throws Exception {
        int[] indices = data.indices(split);
        DpoMetrics metrics = new DpoMetrics();
        UnusablePairs unusable = new UnusablePairs();
        long nonFinite = 0;
        for (int from = 0; from < indices.length; from += batch) {
            int[] rows = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batch));
            DpoData.Batch encoded = data.encode(split, rows);
            unusable.addAll(encoded.skipped());
            List<PairEncoder.Encoded> pairs = encoded.usable();
            if (pairs.isEmpty()) {
                continue;
            }
            List<ReferenceCache.Logps> refs = referenceFree ? null : reference.score(pairs, batch);
            StepRunner.Outcome o = runner.eval(session, pairs, refs);
            if (o.finite()) {
                metrics.addAll(o.metrics());
            } else {
                data.countEvalNonFinite(pairs.size());
                nonFinite += pairs.size();
            }
        }
        return new Result(metrics.toMap(MetricsLog.EVAL_PREFIX), unusable, nonFinite);
    }
}
