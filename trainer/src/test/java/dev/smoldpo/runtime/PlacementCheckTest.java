package dev.smoldpo.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.TensorData;
import dev.smoldpo.onnx.Value;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The placement check on real ONNX Runtime profiles. On the CPU every node runs on the CPU, so a
 * graph holding both shape arithmetic (Shape → Gather → Unsqueeze → Concat on int64) and compute
 * (MatMul, Add, a Reshape of floats) shows what the check would say of a CUDA session where
 * those compute nodes fell back to the CPU.
 */
class PlacementCheckTest {
    private static final Set<String> SHAPE_NODES = Set.of("rows_shape", "rows", "rows_1d", "new_shape");
    private static final Set<String> COMPUTE_NODES = Set.of("project", "shift", "split_heads");

    @TempDir
    static Path dir;
    static Path model;
    static List<ProfiledNode> profiled;

    @BeforeAll
    static void profileOneRun() throws Exception {
        Graph g = new Graph("planted");
        Value x = g.input("x", DType.FLOAT, Shape.of("batch", 4));
        Value w = g.initializer("w", TensorData.floats(new long[] {4, 4}, new float[16]));
        Value y = g.node("MatMul").in(x, w).named("project").out();
        Value z = g.node("Add").in(y, y).named("shift").out();
        // The batch size, read at run time (the symbolic dim keeps ORT from folding it away).
        Value rows = g.node("Gather").in(g.node("Shape").in(z).named("rows_shape").out(), g.constant(TensorData.longs(new long[0], 0)))
                .attr("axis", 0L).named("rows").out();
        Value rows1d = g.node("Unsqueeze").in(rows, g.longs(0)).named("rows_1d").out();
        Value shape = g.node("Concat").in(rows1d, g.longs(2), g.longs(2)).attr("axis", 0L).named("new_shape").out();
        g.output(g.node("Reshape").in(z, shape).named("split_heads").out());
        model = dir.resolve("planted.onnx");
        ModelWriter.write(g, model, null);
        profiled = ProfileReader.read(runProfiled(dir.resolve("profile")));
    }

    /** One run of the model with session profiling on; the profile's path. */
    private static Path runProfiled(Path prefix) throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions options = plainOptions()) {
            options.enableProfiling(prefix.toString());
            try (OrtSession s = env.createSession(model.toString(), options)) {
                run(s);
                return Path.of(s.endProfiling());
            }
        }
    }

    /** CPU options without graph optimizations, so that the profile names the nodes as the graph does. */
    private static OrtSession.SessionOptions plainOptions() throws Exception {
        OrtSession.SessionOptions options = SessionSettings.options(1, false);
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
        return options;
    }

    private static float[] run(OrtSession s) throws Exception {
        float[] in = new float[3 * 4];
        for (int i = 0; i < in.length; i++) {
            in[i] = i;
        }
        try (OnnxTensor t = OnnxTensor.createTensor(OrtRuntime.environment(), FloatBuffer.wrap(in), new long[] {3, 4});
             OrtSession.Result r = s.run(Map.of("x", t))) {
            FloatBuffer b = ((OnnxTensor) r.get(0)).getFloatBuffer();
            float[] out = new float[b.remaining()];
            b.get(out);
            return out;
        }
    }

    private static ProfiledNode node(String name) {
        return profiled.stream().filter(n -> n.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no node '" + name + "' in " + profiled));
    }

    @Test
    void theProfileNamesEachNodeItsOpProviderTypesAndShapes() {
        assertEquals(7, profiled.size(), profiled.toString());
        ProfiledNode project = node("project");
        assertEquals("MatMul", project.op());
        assertEquals(ProfiledNode.CPU, project.provider());
        // Initializers (the weight w here) are not among a node's profiled inputs: ORT counts them as parameter_size.
        assertEquals(List.of(new ProfiledNode.Tensor("float", new long[] {3, 4})), project.inputs());
        assertEquals(List.of(new ProfiledNode.Tensor("float", new long[] {3, 4})), project.outputs());
        ProfiledNode shape = node("rows_shape");
        assertEquals("Shape", shape.op());
        assertArrayEquals(new long[] {2}, shape.outputs().getFirst().shape());
        assertEquals("int64", shape.outputs().getFirst().type());
        assertEquals("Reshape 'split_heads' float[3,4] int64[3] -> float[3,2,2]", node("split_heads").describe());
    }

    @Test
    void shapeArithmeticIsToldApartFromCompute() {
        CpuPlacements cpu = CpuPlacements.of(profiled);
        assertEquals(SHAPE_NODES, cpu.shapeArithmetic().stream().map(ProfiledNode::name).collect(Collectors.toSet()));
        assertEquals(COMPUTE_NODES, cpu.compute().stream().map(ProfiledNode::name).collect(Collectors.toSet()));
        assertEquals(7, cpu.total());
    }

    @Test
    void theClassificationLooksAtTypesAndSizesNotOnlyAtTheOp() {
        ProfiledNode.Tensor big = new ProfiledNode.Tensor("float", new long[] {4096, 4096});
        ProfiledNode.Tensor shape = new ProfiledNode.Tensor("int64", new long[] {4});
        ProfiledNode.Tensor positions = new ProfiledNode.Tensor("int64", new long[] {10_000});
        ProfiledNode.Tensor index = new ProfiledNode.Tensor("int64", new long[] {32, 33});
        ProfiledNode.Tensor scalar = new ProfiledNode.Tensor("int64", new long[0]);
        String cpu = ProfiledNode.CPU;
        assertTrue(CpuPlacements.isShapeArithmetic(new ProfiledNode("s", "Shape", cpu, List.of(big), List.of(shape))),
                "Shape reads only the dimensions of its input");
        assertFalse(CpuPlacements.isShapeArithmetic(new ProfiledNode("r", "Range", cpu, List.of(scalar, scalar, scalar),
                List.of(positions))), "10,000 positions are data, not a shape");
        assertTrue(CpuPlacements.isShapeArithmetic(new ProfiledNode("a", "Add", cpu,
                List.of(index, new ProfiledNode.Tensor("int64", new long[] {1})), List.of(index))),
                "an int64 index offset of a batch (seen on an H200 in the demo's training graph) is index arithmetic");
        assertFalse(CpuPlacements.isShapeArithmetic(new ProfiledNode("c", "Cast", cpu, List.of(shape),
                List.of(new ProfiledNode.Tensor("float", new long[] {4})))), "a float result is compute");
        assertFalse(CpuPlacements.isShapeArithmetic(new ProfiledNode("m", "MatMul", cpu, List.of(shape, shape), List.of(scalar))),
                "MatMul is never shape arithmetic");
        assertTrue(CpuPlacements.of(List.of(new ProfiledNode("g", "MatMul", "CUDAExecutionProvider", List.of(big, big), List.of(big))))
                .compute().isEmpty(), "nodes on CUDA are not listed");
    }

    @Test
    void failListsTheComputeNodesOnTheCpuAndCountsTheShapeNodes() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> PlacementCheck.FAIL.verify(Map.of("planted.onnx", profiled), new PrintStream(new ByteArrayOutputStream())));
        String m = e.getMessage();
        assertTrue(m.contains("ran 3 compute node(s) on the CPU"), m);
        assertTrue(m.contains("planted.onnx: MatMul 'project' float[3,4] -> float[3,4]"), m);
        assertTrue(m.contains("planted.onnx: Add 'shift'") && m.contains("planted.onnx: Reshape 'split_heads'"), m);
        assertTrue(m.contains("(4 shape-arithmetic node(s) on the CPU are expected"), m);
        assertFalse(m.contains("rows_shape"), m);
        assertTrue(m.contains(PlacementCheck.ENV + "=report"), m);
    }

    @Test
    void reportPrintsEveryCpuNodeAndDoesNotFail() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PlacementCheck.REPORT.verify(Map.of("planted.onnx", profiled), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("cuda placement: planted.onnx: 7 nodes ran, 7 on the CPU (4 shape arithmetic, 3 compute)"), out);
        assertTrue(out.contains("  shape arithmetic: Shape 'rows_shape' float[3,4] -> int64[2]"), out);
        assertTrue(out.contains("  compute: MatMul 'project'"), out);
    }

    @Test
    void aNodeThatRanOnCudaPassesTheCheck() {
        List<ProfiledNode> onCuda = profiled.stream().map(n -> COMPUTE_NODES.contains(n.name())
                ? new ProfiledNode(n.name(), n.op(), "CUDAExecutionProvider", n.inputs(), n.outputs()) : n).toList();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PlacementCheck.FAIL.verify(Map.of("planted.onnx", onCuda), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("7 nodes ran, 4 on the CPU (4 shape arithmetic, 0 compute)"));
    }

    @Test
    void theFirstRunOfAnArmedSessionIsCheckedAndLaterRunsAreNot() throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions options = plainOptions()) {
            FirstRunProfile check = FirstRunProfile.arm(PlacementCheck.FAIL, options, "planted.onnx");
            try (OrtSession s = env.createSession(model.toString(), options)) {
                float[] first = run(s);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> check.afterRun(s));
                assertTrue(e.getMessage().contains("planted.onnx: MatMul 'project'"), e.getMessage());
                float[] second = run(s);
                check.afterRun(s); // once only
                assertArrayEquals(first, second);
            }
        }
    }

    @Test
    void offChecksNothing() throws Exception {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions options = plainOptions()) {
            FirstRunProfile check = FirstRunProfile.arm(PlacementCheck.OFF, options, "planted.onnx");
            try (OrtSession s = env.createSession(model.toString(), options)) {
                run(s);
                check.afterRun(s); // on the CPU an active check would fail here
            }
        }
        assertEquals(PlacementCheck.OFF, PlacementCheck.forDevice(false), "never on the CPU");
    }

    @Test
    void theSwitchReadsItsValuesAndNamesABadOne() {
        assertEquals(PlacementCheck.OFF, PlacementCheck.parse(null));
        assertEquals(PlacementCheck.OFF, PlacementCheck.parse("0"));
        assertEquals(PlacementCheck.FAIL, PlacementCheck.parse("1"));
        assertEquals(PlacementCheck.FAIL, PlacementCheck.parse("fail"));
        assertEquals(PlacementCheck.REPORT, PlacementCheck.parse("report"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PlacementCheck.parse("yes"));
        assertTrue(e.getMessage().contains(PlacementCheck.ENV + "=yes"), e.getMessage());
    }

    @Test
    void aFileThatIsNoProfileIsNamed() throws Exception {
        Path notJson = Files.writeString(dir.resolve("nope.json"), "{\"a\": 1}");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ProfileReader.read(notJson));
        assertTrue(e.getMessage().contains("nope.json"), e.getMessage());
    }
}
