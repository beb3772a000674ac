package dev.smoldpo.artifacts.checkpoint;

import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The contents of an ONNX Runtime training checkpoint: trainable and frozen parameters, optimizer
 * state (may be empty: ORT then starts {@code group0} with zero moments at step 0) and a property bag.
 *
 * <p>Property values are {@link Long} (int64), {@link Float} (float32) or {@link String}, the three
 * types the format stores. For convenience {@link Integer}, {@link Short} and {@link Byte} are
 * widened to Long, and {@link Double} is narrowed to Float here, so that what is held is exactly
 * what a write and a read give back.
 */
public record Checkpoint(List<CheckpointTensor> trainable, List<CheckpointTensor> frozen,
                         List<OptimizerGroup> optimizerGroups, Map<String, Object> properties) {
    public Checkpoint {
        trainable = List.copyOf(trainable);
        frozen = List.copyOf(frozen);
        optimizerGroups = List.copyOf(optimizerGroups);
        Set<String> names = new HashSet<>();
        for (CheckpointTensor t : trainable) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("duplicate parameter name '" + t.name() + "'");
            }
        }
        for (CheckpointTensor t : frozen) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("duplicate parameter name '" + t.name() + "'");
            }
        }
        Set<String> groups = new HashSet<>();
        for (OptimizerGroup g : optimizerGroups) {
            if (!groups.add(g.name())) {
                throw new IllegalArgumentException("duplicate optimizer group '" + g.name() + "'");
            }
        }
        Map<String, Object> props = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : properties.entrySet()) {
            Objects.requireNonNull(e.getKey(), "property name");
            props.put(e.getKey(), normalizeProperty(e.getKey(), e.getValue()));
        }
        properties = Collections.unmodifiableMap(props);
    }

    /** Parameters only, no optimizer state, no properties. */
    public static Checkpoint of(List<CheckpointTensor> trainable, List<CheckpointTensor> frozen) {
        return new Checkpoint(trainable, frozen, List.of(), Map.of());
    }

    /** The same checkpoint with other properties. */
    public Checkpoint withProperties(Map<String, Object> newProperties) {
        return new Checkpoint(trainable, frozen, optimizerGroups, newProperties);
    }

    /** The trainable or frozen parameter of that name, or null. */
    public CheckpointTensor parameter(String name) {
        for (CheckpointTensor t : trainable) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        for (CheckpointTensor t : frozen) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }

    /**
     * The trainable parameters as float32 values by name, in the checkpoint's order: what a LoRA
     * consumer (the GRPO sampler, the adapter exports) needs from a checkpoint ORT saved.
     */
    public Map<String, float[]> trainableFloats() {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (CheckpointTensor t : trainable) {
            out.put(t.name(), t.toFloatArray());
        }
        return out;
    }

    /** The optimizer group of that name, or null. */
    public OptimizerGroup optimizerGroup(String name) {
        for (OptimizerGroup g : optimizerGroups) {
            if (g.name().equals(name)) {
                return g;
            }
        }
        return null;
    }

    static Object normalizeProperty(String name, Object value) {
        return switch (value) {
            case null -> throw new IllegalArgumentException("property '" + name + "' is null");
            case Long l -> l;
            case Integer i -> (long) i;
            case Short s -> (long) s;
            case Byte b -> (long) b;
            case Float f -> f;
            case Double d -> d.floatValue();
            case String s -> s;
            default -> throw new IllegalArgumentException("property '" + name + "' has unsupported type "
                    + value.getClass().getName() + " (a checkpoint stores int64, float32 and string properties)");
        };
    }
}
