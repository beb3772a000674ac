package dev.smoldpo.artifacts.checkpoint;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The state of one optimizer parameter group: its step count, the learning rate it started with and,
 * per parameter, the optimizer's moment tensors. ONNX Runtime's AdamW names its group {@code group0}
 * and the moments {@code momentum0} (first order) and {@code momentum1} (second order); the tensor
 * names are kept exactly as stored.
 */
public record OptimizerGroup(String name, long step, float initialLearningRate,
                             Map<String, List<CheckpointTensor>> momentsByParameter) {
    /** The group name ONNX Runtime uses for its single group. */
    public static final String DEFAULT_GROUP = "group0";
    /** ORT's name of the first-order (mean) moment. */
    public static final String FIRST_MOMENT = "momentum0";
    /** ORT's name of the second-order (variance) moment. */
    public static final String SECOND_MOMENT = "momentum1";

    public OptimizerGroup {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(momentsByParameter, "momentsByParameter");
        Map<String, List<CheckpointTensor>> copy = new LinkedHashMap<>();
        for (Map.Entry<String, List<CheckpointTensor>> e : momentsByParameter.entrySet()) {
            Objects.requireNonNull(e.getKey(), "parameter name");
            copy.put(e.getKey(), List.copyOf(e.getValue()));
        }
        momentsByParameter = Collections.unmodifiableMap(copy);
    }

    /** The named moment of a parameter, or null. */
    public CheckpointTensor moment(String parameter, String momentName) {
        List<CheckpointTensor> moments = momentsByParameter.get(parameter);
        if (moments == null) {
            return null;
        }
        for (CheckpointTensor t : moments) {
            if (t.name().equals(momentName)) {
                return t;
            }
        }
        return null;
    }
}
