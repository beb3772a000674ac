package dev.smoldpo.hf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Compares a safetensors header with the weights a {@link ModelConfig} expects. */
public final class WeightCheck {
    /** Entries of each list shown in a message; the rest are counted. */
    public static final int LISTED = 20;

    private WeightCheck() {}

    /**
     * Outcome of a comparison.
     *
     * @param missing expected names absent from the file
     * @param mismatched problems with present tensors (shape or non-float dtype), one line each
     * @param unexpected names in the file the config does not use (informational; not an error)
     */
    public record Report(List<String> missing, List<String> mismatched, List<String> unexpected) {
        public boolean ok() {
            return missing.isEmpty() && mismatched.isEmpty();
        }
    }

    /** Compares without throwing. */
    public static Report check(ModelConfig config, SafetensorsFile file) {
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        Set<String> used = new HashSet<>();
        for (ModelConfig.WeightSpec w : config.expectedWeights()) {
            used.add(w.name());
            var info = file.find(w.name());
            if (info.isEmpty()) {
                missing.add(w.name() + " " + Arrays.toString(w.shape()));
                continue;
            }
            TensorInfo t = info.get();
            if (!Arrays.equals(t.shape(), w.shape())) {
                mismatched.add(w.name() + ": expected shape " + Arrays.toString(w.shape()) + ", found "
                        + Arrays.toString(t.shape()));
            }
            if (!t.dtypeEnum().convertibleToFloat32()) {
                mismatched.add(w.name() + ": dtype " + t.dtype() + " is not a floating-point type");
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String n : file.names()) {
            if (!used.contains(n)) {
                unexpected.add(n);
            }
        }
        return new Report(List.copyOf(missing), List.copyOf(mismatched), List.copyOf(unexpected));
    }

    /**
     * Throws one {@link HfFormatException} listing the missing tensors and the shape/dtype mismatches
     * (names with expected and actual shapes; the first {@value #LISTED} of each, then a count), headed
     * by how many tensors and bytes the header holds against what the config expects, or returns the
     * report when all match.
     */
    public static Report verify(ModelConfig config, SafetensorsFile file) throws HfFormatException {
        Report r = check(config, file);
        if (r.ok()) {
            return r;
        }
        List<ModelConfig.WeightSpec> expected = config.expectedWeights();
        long parameters = 0;
        for (ModelConfig.WeightSpec w : expected) {
            parameters += w.elementCount();
        }
        long dataBytes = 0;
        for (TensorInfo t : file.tensors().values()) {
            dataBytes += t.byteLength();
        }
        StringBuilder sb = new StringBuilder();
        sb.append(file.path()).append(" does not match ").append(config.source()).append(" (model_type ")
                .append(config.modelType()).append("): the header lists ").append(file.names().size())
                .append(" tensors (").append(dataBytes).append(" bytes), the config expects ").append(expected.size())
                .append(" tensors (").append(parameters).append(" parameters); ");
        sb.append(r.missing().size()).append(" missing, ").append(r.mismatched().size()).append(" mismatched");
        if (!r.missing().isEmpty()) {
            sb.append("\n  missing tensors (expected shape):");
            appendList(sb, r.missing());
        }
        if (!r.mismatched().isEmpty()) {
            sb.append("\n  mismatched tensors:");
            appendList(sb, r.mismatched());
        }
        if (!r.unexpected().isEmpty()) {
            sb.append("\n  ").append(r.unexpected().size()).append(" tensors in the file are not used, e.g. ")
                    .append(r.unexpected().subList(0, Math.min(5, r.unexpected().size())));
        }
        throw new HfFormatException(sb.toString());
    }

    /** The first {@value #LISTED} entries, one a line, and how many more there are. */
    private static void appendList(StringBuilder sb, List<String> entries) {
        entries.subList(0, Math.min(LISTED, entries.size())).forEach(m -> sb.append("\n    ").append(m));
        if (entries.size() > LISTED) {
            sb.append("\n    ... and ").append(entries.size() - LISTED).append(" more");
        }
    }
}
