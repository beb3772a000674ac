package dev.smoldpo.infer;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits: greedy (argmax, the lowest id on ties, as
 * {@code torch.argmax}) or sampling in Hugging Face's order — temperature, then top-k, then top-p
 * (nucleus) — from a seeded {@link SplittableRandom}. One sampler per generation; its random stream
 * advances by one draw per sampled token, so the same seed and logits give the same tokens.
 */
public final class Sampler {
    /**
     * How to choose tokens.
     *
     * @param greedy      argmax (the other fields are ignored)
     * @param temperature divides the logits; {@code <= 0} means greedy
     * @param topK        keep the k most likely tokens; {@code <= 0} = all
     * @param topP        keep the smallest set of most likely tokens whose probability reaches p; {@code >= 1} = all
     * @param seed        seed of the random stream
     */
    public record Settings(boolean greedy, double temperature, int topK, double topP, long seed) {
        public Settings {
            if (Double.isNaN(temperature) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException("temperature must be finite: " + temperature);
            }
            if (temperature < 0) throw new IllegalArgumentException("temperature must be >= 0: " + temperature);
            if (!(topP > 0) || topP > 1) throw new IllegalArgumentException("top_p must be in (0, 1]: " + topP);
            if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0: " + topK);
        }

        public static Settings greedyDecoding() {
            return new Settings(true, 1, 0, 1, 0);
        }

        public static Settings sampling(double temperature, int topK, double topP, long seed) {
            return new Settings(false, temperature, topK, topP, seed);
        }

        /** Whether tokens are argmax picks (explicitly, or through a zero temperature). */
        public boolean isGreedy() {
            return greedy || temperature == 0;
        }
    }

    private final Settings settings;
    private final SplittableRandom random;

    public Sampler(Settings settings) {
        this.settings = settings;
        this.random = new SplittableRandom(settings.seed());
    }

    public Settings settings() {
        return settings;
    }

    /** The next token for {@code logits} (one vocabulary row; not modified). */
    public int next(float[] logits) {
        if (settings.isGreedy()) return argmax(logits);
        double[] p = probabilities(logits, settings);
        double u = random.nextDouble();
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] <= 0) continue;
            cumulative += p[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last; // rounding: u landed beyond the last cumulative sum
    }

    /** The index of the largest value, the first one on ties; NaN is never picked unless all are NaN. */
    public static int argmax(float[] logits) {
        if (logits.length == 0) throw new IllegalArgumentException("no logits");
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best] || Float.isNaN(logits[best]) && !Float.isNaN(logits[i])) best = i;
        }
        return best;
    }

    /**
     * The distribution sampling draws from: softmax(logits / temperature), restricted to the top-k and
     * then to the top-p nucleus, renormalised. Zero outside the kept set.
     */
    public static double[] probabilities(float[] logits, Settings s) {
        int n = logits.length;
        if (n == 0) throw new IllegalArgumentException("no logits");
        double t = s.isGreedy() ? 1 : s.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) if (!Float.isNaN(v)) max = Math.max(max, v / t);
        if (max == Double.NEGATIVE_INFINITY) throw new IllegalArgumentException("all logits are -inf or NaN");
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Float.isNaN(logits[i]) ? 0 : Math.exp(logits[i] / t - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) p[i] /= sum;
        if (s.isGreedy()) {
            Arrays.fill(p, 0);
            p[argmax(logits)] = 1;
            return p;
        }
        boolean limitK = s.topK() > 0 && s.topK() < n;
        boolean limitP = s.topP() < 1;
        if (!limitK && !limitP) return p;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        // most likely first; ties by lower id so the kept set never depends on the sort's stability
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = limitK ? s.topK() : n;
        if (limitP) {
            double kept = 0;
            for (int i = 0; i < keep; i++) kept += p[order[i]];
            double cumulative = 0;
            int nucleus = keep;
            for (int i = 0; i < keep; i++) {
                cumulative += p[order[i]] / kept;
                if (cumulative >= s.topP()) {
                    nucleus = i + 1;
                    break;
                }
            }
            keep = Math.max(1, nucleus);
        }
        double[] out = new double[n];
        double total = 0;
        for (int i = 0; i < keep; i++) total += p[order[i]];
        for (int i = 0; i < keep; i++) out[order[i]] = p[order[i]] / total;
        return out;
    }
}
