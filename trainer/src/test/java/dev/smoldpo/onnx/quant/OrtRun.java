package dev.smoldpo.onnx.quant;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.SharedWeights;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.runtime.OrtRuntime;
import dev.smoldpo.runtime.OrtTensors;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes a graph (with its external data) and runs it once in ONNX Runtime's CPU session: each output as floats. */
final class OrtRun {
    private OrtRun() {}

    static Path write(Graph g, Path dir) throws Exception {
        Files.createDirectories(dir);
        Path model = dir.resolve(g.name() + ".onnx");
        try (SharedWeights data = new SharedWeights(dir.resolve(g.name() + ".onnx_data"))) {
            ModelWriter.write(g, model, data);
        }
        return model;
    }

    static Map<String, float[]> run(Graph g, Path dir, Map<String, TensorData> inputs) throws Exception {
        Path model = write(g, dir);
        OrtEnvironment env = OrtRuntime.environment();
        Map<String, OnnxTensor> feed = OrtTensors.of(env, inputs);
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession s = env.createSession(model.toString(), options);
             OrtSession.Result r = s.run(feed)) {
            Map<String, float[]> out = new LinkedHashMap<>();
            for (Map.Entry<String, OnnxValue> e : r) {
                FloatBuffer b = ((OnnxTensor) e.getValue()).getFloatBuffer();
                float[] v = new float[b.remaining()];
                b.get(v);
                out.put(e.getKey(), v);
            }
            return out;
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }
}
