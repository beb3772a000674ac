package dev.smoldpo.grpo.sampling;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.smoldpo.model.lora.LoraTargets;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The LoRA A/B tensors the sampling graphs take as inputs, by their training-checkpoint names: every
 * update replaces all of them at once, after checking that each name is an adapter of the export and
 * each size fits, so a session never runs with a mix of old and new or with a missing tensor.
 */
final class AdapterInputs implements AutoCloseable {
    private final OrtEnvironment env;
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private Map<String, OnnxTensor> tensors = Map.of();

    AdapterInputs(OrtEnvironment env, List<LoraTargets.Target> targets) {
        this.env = env;
        for (LoraTargets.Target t : targets) {
            shapes.put(t.loraA(), t.loraAShape());
            shapes.put(t.loraB(), t.loraBShape());
        }
    }

    /** The names, in the export's order. */
    List<String> names() {
        return List.copyOf(shapes.keySet());
    }

    long[] shape(String name) {
        return shapes.get(name).clone();
    }

    /** Replaces every adapter tensor; {@code values} must hold exactly the export's adapters, each of its size. */
    void update(Map<String, float[]> values) throws OrtException {
        List<String> problems = new ArrayList<>();
        TreeSet<String> missing = new TreeSet<>(shapes.keySet());
        missing.removeAll(values.keySet());
        if (!missing.isEmpty()) {
            problems.add("missing " + missing);
        }
        TreeSet<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(shapes.keySet());
        if (!unknown.isEmpty()) {
            problems.add("not adapters of this export " + unknown);
        }
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            float[] v = values.get(e.getKey());
            long size = Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
            if (v != null && v.length != size) {
                problems.add(e.getKey() + " has " + v.length + " values, its shape " + Arrays.toString(e.getValue())
                        + " needs " + size);
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("LoRA parameters do not fit the sampler's graphs: " + String.join("; ", problems));
        }
        Map<String, OnnxTensor> next = new HashMap<>();
        try {
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                next.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(values.get(e.getKey())), e.getValue()));
            }
        } catch (OrtException | RuntimeException ex) {
            next.values().forEach(OnnxTensor::close);
            throw ex;
        }
        Map<String, OnnxTensor> previous = tensors;
        tensors = next;
        previous.values().forEach(OnnxTensor::close);
    }

    /** Adds the tensors among {@code inputNames} to {@code feed}. */
    void feed(java.util.Set<String> inputNames, Map<String, OnnxTensor> feed) {
        if (tensors.isEmpty() && !shapes.isEmpty()) {
            throw new IllegalStateException("no LoRA parameters yet: call updateAdapters first");
        }
        for (Map.Entry<String, OnnxTensor> e : tensors.entrySet()) {
            if (inputNames.contains(e.getKey())) {
                feed.put(e.getKey(), e.getValue());
            }
        }
    }

    @Override
    public void close() {
        tensors.values().forEach(OnnxTensor::close);
        tensors = Map.of();
    }
}
