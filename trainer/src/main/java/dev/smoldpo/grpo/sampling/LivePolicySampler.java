package dev.smoldpo.grpo.sampling;

import ai.onnxruntime.OrtException;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.data.text.HfTokenizer;
import dev.smoldpo.infer.DeploymentFolder;
import dev.smoldpo.infer.Sampler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * GRPO's generator: G completions per prompt from the policy as it is now. The sampling graphs
 * ({@link PolicyGraphs}, built when the sampler opens) take the LoRA A/B tensors as inputs, so the
 * training loop hands over each step's parameters ({@link #updateAdapters}, e.g. read live from the
 * training session by {@link TrainingParameters}, or {@link #updateAdaptersFromCheckpoint}) and the
 * next group samples from them, with no export in between.
 *
 * <p>Per prompt the image is encoded once and the prompt runs once; its key/value cache is copied to
 * the G rows, which then decode together, one token per row per run. Row g draws from its own
 * {@link Sampler} whose seed comes from (settings.seed, seedForThisPrompt, g), so a group is
 * reproducible whatever else was sampled before. Not thread-safe.
 *
 * <p>Measured at SmolVLM-256M shapes (random weights, fp32, 2 CPU cores, LivePolicySampler256mTest): open
 * (graphs built and sessions created) 41 s; an 81-token prompt with one tile, G = 8 rows of up to 16 tokens:
 * 128 tokens in 4.95 s = 26 tokens/s, image encoding and prefill included.
 */
public final class LivePolicySampler implements AutoCloseable {
    private final PolicyGraphs graphs;
    private final PolicySessions sessions;
    private final HfTokenizer tokenizer;
    private final Set<Long> eos;
    private long tokensSampled;
    private long samplingNanos;

    private LivePolicySampler(PolicyGraphs graphs, PolicySessions sessions, HfTokenizer tokenizer, Set<Long> eos) {
        this.graphs = graphs;
        this.sessions = sessions;
        this.tokenizer = tokenizer;
        this.eos = eos;
    }

    /**
     * Builds the sampling graphs of an export-artifacts folder and opens them, with the export's own
     * (initial) LoRA parameters from its checkpoint.
     *
     * @param threads intra-op threads (0 = ORT's default)
     * @param cuda    run on ORT's CUDA execution provider
     */
    public static LivePolicySampler open(Path artifactsDir, int threads, boolean cuda) throws IOException, OrtException {
        PolicyGraphs graphs = PolicyGraphs.build(artifactsDir);
        PolicySessions sessions = null;
        HfTokenizer tokenizer = null;
        try {
            sessions = PolicySessions.open(graphs, threads, cuda);
            tokenizer = HfTokenizer.load(artifactsDir);
            Set<Long> eos = DeploymentFolder.eosIds(artifactsDir);
            if (eos.isEmpty()) {
                throw new IllegalArgumentException(artifactsDir + ": neither generation_config.json nor config.json names an"
                        + " eos_token_id, so completions could not end");
            }
            LivePolicySampler sampler = new LivePolicySampler(graphs, sessions, tokenizer, eos);
            sampler.updateAdaptersFromCheckpoint(artifactsDir.resolve(dev.smoldpo.artifacts.ArtifactFiles.CHECKPOINT));
            return sampler;
        } catch (IOException | OrtException | RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            if (sessions != null) {
                sessions.close();
            }
            graphs.close();
            throw e;
        }
    }

    /** The LoRA parameter names the sampler takes (the training checkpoint's), in the export's order. */
    public List<String> adapterNames() {
        return sessions.adapters.names();
    }

    /** Replaces every LoRA tensor by name (training-graph names); all of the export's adapters must be given. */
    public void updateAdapters(Map<String, float[]> loraParameters) {
        try {
            sessions.adapters.update(loraParameters);
        } catch (ai.onnxruntime.OrtException e) {
            throw new IllegalStateException("cannot hand the LoRA parameters to ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /** The LoRA tensors of an ORT checkpoint file (or of a fit checkpoint-N folder's ort_checkpoint). */
    public void updateAdaptersFromCheckpoint(Path checkpoint) {
        Path file = Files.isDirectory(checkpoint) ? checkpoint.resolve("ort_checkpoint") : checkpoint;
        Checkpoint read = CheckpointReader.read(file);
        Map<String, float[]> lora = new LinkedHashMap<>();
        for (String name : adapterNames()) {
            if (read.parameter(name) == null) {
                throw new IllegalArgumentException(file + " has no parameter '" + name + "' (the sampler's adapters are "
                        + adapterNames().size() + " tensors such as " + adapterNames().getFirst() + ")");
            }
            lora.put(name, read.parameter(name).toFloatArray());
        }
        updateAdapters(lora);
    }

    /** G = settings.numGenerations completions of {@code prompt} under the current adapters. */
    public SampledGroup sample(EncodedPrompt prompt, SamplingSettings settings, long seedForThisPrompt) {
        long start = System.nanoTime();
        try {
            return sampleGroup(prompt, settings, seedForThisPrompt);
        } catch (OrtException e) {
            throw new IllegalStateException("sampling failed in ONNX Runtime: " + e.getMessage(), e);
        } finally {
            samplingNanos += System.nanoTime() - start;
        }
    }

    private SampledGroup sampleGroup(EncodedPrompt prompt, SamplingSettings settings, long promptSeed) throws OrtException {
        int maxPositions = graphs.config.text().maxPositionEmbeddings();
        long[] ids = prompt.inputIds();
        if (ids.length >= maxPositions) {
            throw new IllegalArgumentException("the prompt is " + ids.length + " tokens: no room for a completion within "
                    + "text_config.max_position_embeddings " + maxPositions);
        }
        int cap = Math.min(settings.maxCompletionLength(), maxPositions - ids.length);
        int g = settings.numGenerations();
        float[] features = prompt.image().count() == 0 ? new float[0] : sessions.imageFeatures(prompt.image());
        Sampler[] samplers = new Sampler[g];
        SplittableRandom seeds = new SplittableRandom(settings.seed() * 0x9E3779B97F4A7C15L + promptSeed);
        for (int r = 0; r < g; r++) {
            samplers[r] = new Sampler(Sampler.Settings.sampling(settings.temperature(), settings.topK(), settings.topP(),
                    seeds.nextLong()));
        }
        List<List<Integer>> tokens = new ArrayList<>();
        List<List<Float>> logps = new ArrayList<>();
        for (int r = 0; r < g; r++) {
            tokens.add(new ArrayList<>());
            logps.add(new ArrayList<>());
        }
        boolean[] done = new boolean[g];
        try (PolicySessions.Cache prefill = sessions.prefill(ids, features);
             PolicySessions.Cache group = prefill.repeat(g)) {
            prefill.close(); // the group holds its own copy
            for (int step = 0; ; step++) {
                float[][] logits = group.logits();
                long[] next = new long[g];
                int running = 0;
                for (int r = 0; r < g; r++) {
                    if (done[r]) {
                        continue; // a finished row still runs with the batch; what it makes is dropped
                    }
                    int token = samplers[r].next(withoutImageToken(logits[r]));
                    next[r] = token;
                    tokens.get(r).add(token);
                    logps.get(r).add((float) logSoftmaxAt(logits[r], token));
                    done[r] = eos.contains((long) token) || step + 1 >= cap;
                    running += done[r] ? 0 : 1;
                }
                if (running == 0) {
                    break;
                }
                group.append(next);
            }
        }
        List<int[]> completions = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        List<float[]> logpRows = new ArrayList<>();
        for (int r = 0; r < g; r++) {
            int[] completion = tokens.get(r).stream().mapToInt(Integer::intValue).toArray();
            float[] rowLogps = new float[completion.length];
            for (int i = 0; i < completion.length; i++) {
                rowLogps[i] = logps.get(r).get(i);
            }
            tokensSampled += completion.length;
            completions.add(completion);
            texts.add(tokenizer.decode(Arrays.stream(completion).asLongStream().toArray(), true));
            logpRows.add(rowLogps);
        }
        return new SampledGroup(completions, texts, logpRows);
    }

    /**
     * The logits with {@code <image>} masked: a sampled image token would be merged with image
     * features when the training graph scores the completion (its inputs_merger takes every image
     * token), so the policy never draws it. Log-probs stay those of the unmasked logits, the
     * distribution the training graph computes.
     */
    private float[] withoutImageToken(float[] logits) {
        int image = Math.toIntExact(graphs.config.imageTokenId());
        if (image < 0 || image >= logits.length) {
            return logits;
        }
        float[] masked = logits.clone();
        masked[image] = Float.NEGATIVE_INFINITY;
        return masked;
    }

    /** log softmax(logits)[token], in double. */
    static double logSoftmaxAt(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return logits[token] - max - Math.log(sum);
    }

    /** Completion tokens sampled since the sampler opened (finished rows' padding steps not counted). */
    public long tokensSampled() {
        return tokensSampled;
    }

    /** Wall time spent in {@link #sample}, in seconds: with {@link #tokensSampled()}, the sampling rate. */
    public double samplingSeconds() {
        return samplingNanos / 1e9;
    }

    @Override
    public void close() throws OrtException {
        try {
            tokenizer.close();
            sessions.close();
        } finally {
            graphs.close();
        }
    }
}
