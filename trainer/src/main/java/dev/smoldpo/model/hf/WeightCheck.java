package dev.smoldpo.model.hf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Compares a safetensors header with the weights a {@link ModelConfig} expects. */
public final class WeightCheck {
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
     * Throws one {@link HfFormatException} listing every missing tensor and every shape/dtype
     * mismatch (names with expected and actual shapes), or returns the report when all match.
     */
    public static Report verify(ModelConfig config, SafetensorsFile file) throws HfFormatException {
        Report r = check(config, file);
        if (r.ok()) {
            return r;
        }
        StringBuilder sb = new StringBuilder();
        sb.append(file.path()).append(" does not match ").append(config.source()).append(" (model_type ")
                .append(config.modelType()).append("): ");
        sb.append(r.missing().size()).append(" missing, ").append(r.mismatched().size()).append(" mismatched");
        if (!r.missing().isEmpty()) {
            sb.append("\n  missing tensors (expected shape):");
            r.missing().forEach(m -> sb.append("\n    ").append(m));
        }
        if (!r.mismatched().isEmpty()) {
            sb.append("\n  mismatched tensors:");
            r.mismatched().forEach(m -> sb.append("\n    ").append(m));
        }
        if (!r.unexpected().isEmpty()) {
            sb.append("\n  ").append(r.unexpected().size()).append(" tensors in the file are not used, e.g. ")
                    .append(r.unexpected().subList(0, Math.min(5, r.unexpected().size())));
        }
        throw new HfFormatException(sb.toString());
    }
}
