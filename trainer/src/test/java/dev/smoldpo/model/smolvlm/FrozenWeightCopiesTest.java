package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.cli.Main;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import dev.smoldpo.runtime.OrtRuntime;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime's constant folding evaluates, once at session creation, every node whose inputs are all
 * initializers, and keeps the result as a new initializer beside the old one. A gradient graph that
 * transposes (or casts) a frozen weight would so hold a second copy of the model's weights: at
 * SmolVLM-256M shapes ORT's optimized training graph held 1,925 MB of initializers for an export of
 * 1,026 MB before the MatMul gradient read frozen weights through FusedMatMul's transB. On a GPU that
 * copy sits in device memory for the whole run.
 */
class FrozenWeightCopiesTest {
    @TempDir
    static Path root;
    static final List<Path> EXPORTS = new ArrayList<>();

    @BeforeAll
    static void export() {
        EXPORTS.add(export("fp32"));
        EXPORTS.add(export("bf16", "--precision", "bf16"));
        EXPORTS.add(export("fp16-recompute-layers", "--precision", "fp16", "--recompute", "layers"));
        EXPORTS.add(export("grpo-kl", "--loss", "grpo", "--kl"));
    }

    private static Path export(String name, String... args) {
        Path out = root.resolve(name);
        List<String> all = new ArrayList<>(List.of("export-artifacts", "--out", out.toString()));
        all.addAll(List.of(args));
        assertEquals(0, Main.run(all.toArray(String[]::new)), "export " + all);
        return out;
    }

    @Test
    void onnxRuntimesOptimizedGraphsHoldNoMoreWeightsThanTheExport() throws Exception {
        OrtRuntime.environment();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (String graph : List.of("training_model.onnx", "eval_model.onnx", "reference_model.onnx")) {
            Path model = EXPORTS.getFirst().resolve(graph);
            Path optimized = root.resolve("optimized-" + graph);
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT); // what smoldpo's sessions use
                options.setOptimizedModelFilePath(optimized.toString());
                env.createSession(model.toString(), options).close();
            }
            long exported = initializerBytes(read(model));
            long kept = initializerBytes(read(optimized));
            System.out.printf("%s: initializers %,d bytes exported, %,d in ORT's optimized graph%n", graph, exported, kept);
            // folding shape arithmetic into small constants adds a few hundred bytes; a folded weight adds kilobytes
            assertTrue(kept <= exported + 1024, graph + ": ORT's optimized graph holds " + kept + " bytes of initializers, the export "
                    + exported + ": a node computes a new tensor from frozen weights alone (see weightOnlyNodes)");
        }
    }

    @Test
    void noNodeOfAnyExportComputesFromFrozenMatricesAlone() throws IOException {
        for (Path export : EXPORTS) {
            for (String graph : List.of("training_model.onnx", "eval_model.onnx", "reference_model.onnx")) {
                List<String> found = weightOnlyNodes(read(export.resolve(graph)));
                assertTrue(found.isEmpty(), export.getFileName() + "/" + graph + ": nodes that ORT would fold into copies of "
                        + "frozen weights:\n  " + String.join("\n  ", found));
            }
        }
    }

    @Test
    void theCheckFindsATransposedWeight() throws IOException {
        Graph g = new Graph("planted");
        Value x = g.input("x", DType.FLOAT, Shape.of(2, 3));
        Value w = g.initializer("w", TensorData.floats(new long[] {4, 3}, new float[12]));
        g.output(g.matMul(x, g.transpose(w, 1, 0)));
        Path file = root.resolve("planted.onnx");
        ModelWriter.write(g, file, null);
        List<String> found = weightOnlyNodes(read(file));
        assertEquals(1, found.size(), found.toString());
        assertTrue(found.getFirst().contains("Transpose"), found.toString());
    }

    /**
     * Nodes whose inputs are all initializers or computed from initializers only, at least one of them a
     * matrix (rank >= 2): what ORT's ConstantFolding (onnxruntime/core/optimizer/constant_folding.cc) turns
     * into a new initializer. Folded shape and index arithmetic reads vectors and scalars only.
     */
    static List<String> weightOnlyNodes(OnnxMl.ModelProto model) {
        Set<String> constant = new HashSet<>();
        Set<String> fromMatrices = new HashSet<>();
        for (OnnxMl.TensorProto t : model.getGraph().getInitializerList()) {
            constant.add(t.getName());
            if (t.getDimsCount() >= 2) {
                fromMatrices.add(t.getName());
            }
        }
        List<String> found = new ArrayList<>();
        for (OnnxMl.NodeProto n : model.getGraph().getNodeList()) { // written in topological order
            List<String> inputs = n.getInputList().stream().filter(s -> !s.isEmpty()).toList();
            if (inputs.isEmpty() || !constant.containsAll(inputs)) {
                continue;
            }
            constant.addAll(n.getOutputList());
            if (inputs.stream().anyMatch(fromMatrices::contains)) {
                fromMatrices.addAll(n.getOutputList());
                found.add(n.getOpType() + " '" + n.getName() + "' of " + inputs);
            }
        }
        return found;
    }

    private static long initializerBytes(OnnxMl.ModelProto model) {
        long bytes = 0;
        for (OnnxMl.TensorProto t : model.getGraph().getInitializerList()) {
            long elements = 1;
            for (long d : t.getDimsList()) {
                elements *= d;
            }
            bytes += elements * DType.fromOnnx(t.getDataType()).byteSize;
        }
        return bytes;
    }

    private static OnnxMl.ModelProto read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return OnnxMl.ModelProto.parseFrom(in);
        }
    }
}
