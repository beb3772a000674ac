package dev.smoldpo.artifacts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import com.fasterxml.jackson.databind.JsonNode;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.testing.Fixtures;
import dev.smoldpo.train.TrainingSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our optimizer graph, run by ORT's training API, against torch.optim.AdamW with
 * torch.nn.utils.clip_grad_norm_ (fixtures/adamw_torch.json, made by tools/fixtures/adamw_torch.py):
 * the same initial parameters, raw gradients and learning rates give the same parameters after each
 * of four steps, to 1e-6.
 */
class AdamWTorchParityTest {
    private static final double TOLERANCE = 1e-6;
    private static final String GRADIENT_PREFIX = "gradient_of_";

    @TempDir
    Path dir;

    /**
     * loss = Σ_k Σ p_k ⊙ g_k with each g_k fed: the gradient of every parameter is exactly the fed
     * tensor, so ORT's optimizer sees torch's gradients bit for bit.
     */
    private record GradientProbe(Map<String, TensorData> initial) implements ModelDefinition {
        @Override
        public List<Parameter> trainableParameters() {
            List<Parameter> params = new ArrayList<>();
            initial.forEach((name, value) -> params.add(new Parameter(name, value)));
            return params;
        }

        @Override
        public Forward build(Graph graph, Map<String, Value> trainable) {
            Value loss = null;
            for (Map.Entry<String, Value> p : trainable.entrySet()) {
                Value g = graph.input(GRADIENT_PREFIX + p.getKey(), DType.FLOAT, p.getValue().shape());
                Value term = graph.reduceSum(graph.mul(p.getValue(), g), false);
                loss = loss == null ? term : graph.add(loss, term);
            }
            return new Forward(graph.node("Identity").in(loss).outputNames("loss").out(), List.of());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"hf_defaults", "eps_and_decay_visible", "plain"})
    void parametersFollowTorchAdamWStepByStep(String name) throws Exception {
        JsonNode s = scenario(name);
        Map<String, TensorData> initial = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (Iterator<String> it = s.get("shapes").fieldNames(); it.hasNext(); ) {
            String p = it.next();
            shapes.put(p, Fixtures.longs(s.get("shapes").get(p)));
            initial.put(p, TensorData.floats(shapes.get(p), Fixtures.floats(s.get("initial").get(p))));
        }
        AdamWConfig adamw = new AdamWConfig(s.get("beta1").asDouble(), s.get("beta2").asDouble(),
                s.get("epsilon").asDouble(), s.get("weight_decay").asDouble(), s.get("max_grad_norm").asDouble());
        ArtifactFiles files = ArtifactBuilder.build(new GradientProbe(initial), adamw, dir.resolve(name), name, Map.of());
        double largestUpdate = 0;
        try (TrainingSession session = TrainingSession.open(files, files.checkpoint(), 1)) {
            int step = 0;
            for (JsonNode expected : s.get("steps")) {
                step++;
                session.ort().setLearningRate((float) expected.get("learning_rate").asDouble());
                session.ort().lazyResetGrad();
                Map<String, OnnxTensor> feed = new HashMap<>();
                for (String p : shapes.keySet()) {
                    feed.put(GRADIENT_PREFIX + p, session.floats(Fixtures.floats(expected.get("gradients").get(p)), shapes.get(p)));
                }
                try {
                    session.trainStep(feed);
                } finally {
                    feed.values().forEach(OnnxTensor::close);
                }
                session.ort().optimizerStep();
                Path saved = dir.resolve(name + "-step" + step + ".ckpt");
                session.ort().saveCheckpoint(saved, false);
                Checkpoint after = CheckpointReader.read(saved);
                for (String p : shapes.keySet()) {
                    float[] ours = after.parameter(p).toFloatArray();
                    double[] torch = Fixtures.doubles(expected.get("params_after").get(p));
                    float[] start = Fixtures.floats(s.get("initial").get(p));
                    for (int i = 0; i < ours.length; i++) {
                        assertEquals(torch[i], ours[i], TOLERANCE, name + " step " + step + " " + p + "[" + i + "]");
                        largestUpdate = Math.max(largestUpdate, Math.abs(torch[i] - start[i]));
                    }
                }
            }
        }
        assertTrue(largestUpdate > 100 * TOLERANCE, "the steps must move the parameters well beyond the tolerance");
    }

    private static JsonNode scenario(String name) {
        for (JsonNode s : Fixtures.json("adamw_torch.json").get("scenarios")) {
            if (s.get("name").asText().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("no scenario " + name + " in adamw_torch.json");
    }
}
