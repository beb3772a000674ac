package dev.smoldpo.train;

import dev.smoldpo.data.DataSplit;
import dev.smoldpo.data.PreferenceDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.data.SkipReport;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.KernelPlacement;
import dev.smoldpo.train.config.TrainConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The preference data of a run: the training and held-out pairs (a split of one dataset, or two
 * datasets), encoded on demand by the {@link PairEncoder}, with unusable and truncated pairs counted
 * once each however often they are met (every epoch, every evaluation).
 */
final class DpoData implements AutoCloseable {
    private final PreferenceDataset train;
    private final PreferenceDataset heldOut;
    private final int[] trainIndices;
    private final int[] testIndices;
    private final PairEncoder encoder;
    private final SkipReport.Builder skips = new SkipReport.Builder();
    private final Set<String> counted = new HashSet<>();
    private long truncated;

    DpoData(TrainConfig config, Path artifacts, ModelConfig model, Path datasetFile, boolean cuda) throws Exception {
        this.train = PreferenceDataset.open(datasetFile);
        PreferenceDataset eval = null;
        try {
            eval = config.evalDataset() == null ? null : PreferenceDataset.open(config.evalDataset());
            skips.addAll(train.skipped());
            if (eval == null) {
                DataSplit split = DataSplit.of(train.size(), config.testSize(), config.effectiveDataSeed());
                this.trainIndices = limit(split.train(), config.maxTrainSamples());
                this.testIndices = limit(split.test(), config.maxEvalSamples());
            } else {
                skips.addAll(eval.skipped());
                this.trainIndices = limit(range(train.size()), config.maxTrainSamples());
                this.testIndices = limit(range(eval.size()), config.maxEvalSamples());
            }
            if (trainIndices.length == 0) {
                throw new IllegalArgumentException("no training pairs left after the split (" + train.size() + " usable rows in "
                        + datasetFile + ", test_size " + config.testSize() + ")");
            }
            int maxPrompt = config.maxPromptLength() != null ? config.maxPromptLength() : config.maxLength() / 2;
            this.encoder = new PairEncoder(artifacts, model, new PairEncoder.Settings(config.maxLength(), maxPrompt,
                    config.truncationMode() == TrainConfig.TruncationMode.KEEP_END,
                    config.imageLongestEdge() == null ? 0 : config.imageLongestEdge(),
                    config.maxCompletionLength() == null ? 0 : config.maxCompletionLength()),
                    KernelPlacement.forFit(KernelPlacement.Kernel.PREPROCESS, cuda));
        } catch (Exception | Error e) {
            train.close();
            if (eval != null) {
                eval.close();
            }
            throw e;
        }
        this.heldOut = eval;
    }

    /** What is read of each dataset when it is not simply the file given, e.g. a folder's train split's shards. */
    List<String> describeSources() {
        List<String> lines = new ArrayList<>();
        for (PreferenceDataset d : heldOut == null ? List.of(train) : List.of(train, heldOut)) {
            String what = d.files().describe();
            if (what != null) {
                lines.add("dataset " + d.file() + ": reading " + what);
            }
        }
        return lines;
    }

    /** Which rows a split means: "test" (the held-out pairs), "train" or "all" (every training-set row). */
    enum Split { TRAIN, TEST, ALL }

    int[] trainIndices() {
        return trainIndices;
    }

    int[] testIndices() {
        return testIndices;
    }

    /** The rows of a split, and the dataset they index. */
    int[] indices(Split split) {
        return switch (split) {
            case TRAIN -> trainIndices;
            case TEST -> testIndices;
            case ALL -> range(train.size());
        };
    }

    PreferenceDataset source(Split split) {
        return split == Split.TEST && heldOut != null ? heldOut : train;
    }

    /** Rows encoded together: the usable pairs, and the rows left out with their reasons. */
    record Batch(List<PairEncoder.Encoded> usable, List<PairEncoder.Skipped> skipped) {}

    /** Encodes rows of a split's dataset; unusable pairs are left out and counted (once per row). */
    Batch encode(Split split, int[] rows) {
        return encode(split, rows, true);
    }

    /** Encodes without counting (a first pass over the data, e.g. to precompute reference log-probs). */
    Batch encodeQuietly(Split split, int[] rows) {
        return encode(split, rows, false);
    }

    private Batch encode(Split split, int[] rows, boolean count) {
        PreferenceDataset source = source(split);
        String tag = source == train ? "t" : "e";
        List<PreferenceExample> examples = source.get(rows);
        List<PairEncoder.Encoded> usable = new ArrayList<>();
        List<PairEncoder.Skipped> skipped = new ArrayList<>();
        for (PairEncoder.Outcome o : encoder.encode(examples)) {
            switch (o) {
                case PairEncoder.Encoded e -> {
                    usable.add(e);
                    if (count && e.truncated() && counted.add(tag + e.example().sourceRow())) {
                        truncated++;
                    }
                }
                case PairEncoder.Skipped s -> {
                    skipped.add(s);
                    if (count && counted.add(tag + s.example().sourceRow())) {
                        skips.add(s.reason(), s.example().sourceRow());
                    }
                }
            }
        }
        return new Batch(usable, skipped);
    }

    /** Records pairs the evaluation could not score (a non-finite loss). */
    void countEvalNonFinite(int pairs) {
        skips.add("eval_nonfinite", pairs, List.of());
    }

    SkipReport skipped() {
        return skips.build();
    }

    long truncated() {
        return truncated;
    }

    static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    private static int[] limit(int[] indices, Integer max) {
        return max == null || max >= indices.length ? indices : Arrays.copyOf(indices, max);
    }

    @Override
    public void close() throws Exception {
        encoder.close();
        train.close();
        if (heldOut != null) {
            heldOut.close();
        }
    }
}
