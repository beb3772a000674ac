package dev.smoldpo.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.smoldpo.cli.Main;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.deploy.DeploymentVariants;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import dev.smoldpo.onnx.quant.DtypePasses;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.grpo.sampling.PolicyGraphs;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.ModelWriter;
import dev.smoldpo.onnx.Shape;
import dev.smoldpo.onnx.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No silent CPU fallback on CUDA, checked on CPU: every node of every graph smoldpo runs (training,
 * eval and optimizer graphs and reference_model.onnx of exports covering the loss types, the
 * optional graph parts and both vision activations; the three deployment graphs) must have a CUDA
 * kernel in ONNX Runtime 1.28 for its domain, opset and input/output types. A node without one
 * would run on the CPU under --device cuda, with its tensors copied back and forth every step.
 */
class CudaKernelCoverageTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final CudaKernelTable TABLE = CudaKernelTable.load();
    private static final List<NodeTypes.Node> NODES = new ArrayList<>();
    /** The q8 deployment's nodes: CPU and browser only (see {@link #deploy}). */
    private static final List<NodeTypes.Node> Q8_NODES = new ArrayList<>();

    @TempDir
    static Path root;

    @BeforeAll
    static void exportEverything() throws Exception {
        // The demo with the defaults (sigmoid loss, gradient clipping, vision and text adapters) ...
        Path demo = export("demo");
        // ... and variants that change which ops the graphs hold.
        Path textOnly = export("text-ipo", "--text-only", "--loss-type", "ipo");
        export("hinge-reference-free", "--loss-type", "hinge", "--reference-free");
        export("robust-dropout", "--loss-type", "robust", "--label-smoothing", "0.1", "--lora-dropout", "0.1");
        export("apo-no-clipping", "--loss-type", "apo_zero", "--max-grad-norm", "0");
        // GRPO: per-token log-probs at a temperature, the clipped ratio, and the KL term
        export("grpo", "--loss", "grpo");
        export("grpo-kl-text", "--loss", "grpo", "--kl", "--text-only");
        // mixed precision: matmuls and attention in bf16 / fp16, statistics and loss in float32
        Path bf16 = export("bf16", "--precision", "bf16");
        export("fp16", "--precision", "fp16");
        // recomputed activations: the gates (Size, Greater, Where in bf16, And on masks) and the copies
        export("bf16-recompute-layers", "--precision", "bf16", "--recompute", "layers");
        export("recompute-attention-dropout", "--recompute", "attention", "--lora-dropout", "0.1");
        export("grpo-recompute-vision", "--loss", "grpo", "--kl", "--recompute", "vision");
        Path erfDemo = root.resolve("demo-erf-gelu");
        DemoModel.write(erfDemo, 7);
        ObjectNode config = (ObjectNode) JSON.readTree(erfDemo.resolve("config.json").toFile());
        ((ObjectNode) config.get("vision_config")).put("hidden_act", "gelu");
        JSON.writeValue(erfDemo.resolve("config.json").toFile(), config);
        Path erf = export("erf-gelu", erfDemo.toString());
        deploy(demo, "deploy", EnumSet.allOf(DeploymentDtype.class));
        deploy(erf, "deploy-erf-gelu", EnumSet.of(DeploymentDtype.FP32));
        // GRPO's sampling graphs (LoRA as inputs): with vision adapters, text-only, and half-precision weights
        sample(demo, "sampling-demo");
        sample(textOnly, "sampling-text-only");
        sample(bf16, "sampling-bf16");
    }

    private static void sample(Path artifacts, String name) throws Exception {
        try (PolicyGraphs graphs = PolicyGraphs.build(artifacts)) {
            for (Path graph : List.of(graphs.vision(), graphs.decoder())) {
                NODES.addAll(NodeTypes.read(graph).stream().map(n -> relabel(n, name + "/" + graph.getFileName())).toList());
            }
        }
    }

    private static Path export(String name, String... args) {
        Path out = root.resolve(name);
        List<String> all = new ArrayList<>(List.of("export-artifacts", "--out", out.toString()));
        all.addAll(List.of(args));
        assertEquals(0, Main.run(all.toArray(String[]::new)), "export " + all);
        for (String graph : List.of("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "reference_model.onnx")) {
            NODES.addAll(NodeTypes.read(out.resolve(graph)).stream().map(n -> relabel(n, name + "/" + graph)).toList());
        }
        return out;
    }

    /**
     * The deployment graphs in every dtype export --dtype writes. q8 is the exception, kept apart in
     * {@link #Q8_NODES}: ORT's dynamic 8-bit DynamicQuantizeMatMul has CPU kernels only (q8 is the
     * transformers.js/WASM and CPU variant); the others (fp32, fp16, q4 and q4f16, with MatMulNBits and
     * GatherBlockQuantized) must have CUDA kernels throughout.
     */
    private static void deploy(Path artifacts, String name, Set<DeploymentDtype> dtypes) throws Exception {
        Path onnx = DeploymentExporter.export(artifacts, null, root.resolve(name), null,
                new DeploymentVariants(dtypes, DtypePasses.DEFAULT_BLOCK_SIZE)).resolve("onnx");
        for (DeploymentDtype dtype : dtypes) {
            for (String graph : List.of(DeploymentExporter.VISION, DeploymentExporter.EMBED, DeploymentExporter.DECODER)) {
                String file = dtype.fileName(graph);
                (dtype == DeploymentDtype.Q8 ? Q8_NODES : NODES).addAll(NodeTypes.read(onnx.resolve(file)).stream()
                        .map(n -> relabel(n, name + "/onnx/" + file)).toList());
            }
        }
    }

    @Test
    void theQ8DeploymentLacksCudaKernelsOnlyForItsDynamicallyQuantizedMatMuls() {
        assertFalse(Q8_NODES.isEmpty());
        List<String> gaps = new ArrayList<>();
        for (NodeTypes.Node n : Q8_NODES) {
            String why = TABLE.gap(n);
            if (why != null && !n.op().equals("DynamicQuantizeMatMul")) {
                gaps.add(n.describe() + ": " + why);
            }
        }
        assertTrue(Q8_NODES.stream().anyMatch(n -> n.op().equals("DynamicQuantizeMatMul") && TABLE.gap(n) != null),
                "DynamicQuantizeMatMul still has no CUDA kernel (if it gained one, check q8 with the other dtypes)");
        assertTrue(gaps.isEmpty(), "q8 nodes without a CUDA kernel besides DynamicQuantizeMatMul:\n  " + String.join("\n  ", gaps));
    }

    private static NodeTypes.Node relabel(NodeTypes.Node n, String graph) {
        return new NodeTypes.Node(graph, n.name(), n.domain(), n.op(), n.opset(), n.inputs(), n.outputs());
    }

    @Test
    void everyNodeOfEveryGraphHasACudaKernel() throws Exception {
        List<String> gaps = new ArrayList<>();
        Map<String, Integer> seen = new TreeMap<>();
        for (NodeTypes.Node n : NODES) {
            String why = TABLE.gap(n);
            if (why != null) {
                gaps.add(n.describe() + ": " + why);
            }
            CudaKernelTable.Kernel k = TABLE.kernelFor(n);
            seen.merge(String.join("\t", n.domain(), n.op(), Long.toString(n.opset()), String.join(",", n.inputs().stream()
                    .map(String::valueOf).toList()), String.join(",", n.outputs()), k == null ? "NONE" : k.range() + " " + k.source()), 1, Integer::sum);
        }
        // For the reader: every distinct (domain, op, opset, input types, output types) checked, with its kernel.
        List<String> report = new ArrayList<>(List.of("# " + NODES.size() + " nodes of " + NODES.stream().map(NodeTypes.Node::graph)
                .distinct().count() + " graphs; written by " + getClass().getSimpleName(), "domain\top\topset\tinputs\toutputs\tcuda kernel\tnodes"));
        seen.forEach((sig, count) -> report.add(sig + "\t" + count));
        Files.write(Path.of("target", "cuda-kernel-coverage.tsv"), report);
        assertTrue(gaps.isEmpty(), gaps.size() + " of " + NODES.size() + " nodes have no CUDA kernel in ONNX Runtime 1.28"
                + " and would run on the CPU under --device cuda:\n  " + String.join("\n  ", gaps));
    }

    @Test
    void theCheckSawEveryGraphAndTheOpsThatOnlySomeExportsHave() {
        Set<String> graphs = new TreeSet<>();
        Set<String> ops = new TreeSet<>();
        NODES.forEach(n -> {
            graphs.add(n.graph());
            ops.add(n.domain() + "::" + n.op());
        });
        // 13 exports of 4 graphs; the demo's deployment in fp32, fp16, q4 and q4f16, the erf one in fp32; 3 x 2 sampling graphs
        assertEquals(13 * 4 + 4 * 3 + 3 + 3 * 2, graphs.size(), "graphs checked: " + graphs);
        for (String half : List.of("tensor(bfloat16)", "tensor(float16)")) {
            assertTrue(NODES.stream().anyMatch(n -> n.op().equals("MatMul") && n.inputs().contains(half)),
                    "a " + half + " MatMul was checked");
        }
        for (String op : List.of("com.microsoft::InPlaceAccumulatorV2", "com.microsoft::AdamWOptimizer", "com.microsoft::FastGelu",
                "com.microsoft::Gelu", "ai.onnx::Dropout", "ai.onnx::SequenceAt", "ai.onnx::SequenceConstruct", "ai.onnx::TopK",
                "ai.onnx::MatMul", "com.microsoft::MatMulNBits", "com.microsoft::GatherBlockQuantized",
                "ai.onnx::LayerNormalization", "ai.onnx::Shape", "ai.onnx::Range", "ai.onnx::NonZero",
                "ai.onnx::Exp", "ai.onnx::Where", "ai.onnx::Less", "ai.onnx::Greater", "ai.onnx::Size", "ai.onnx::And")) {
            assertTrue(ops.contains(op), op + " is among the checked ops " + ops);
        }
    }

    // ---- the check bites ----

    @Test
    void aNodeWhoseTypesNoCudaKernelTakesIsReportedWithItsGraphNameOpAndTypes() {
        Graph g = new Graph("planted");
        Value flag = g.input("flag", DType.BOOL, Shape.fixed(4));
        Value ids = g.input("ids", DType.INT64, Shape.fixed(2, 2));
        // CUDA's Where (16+) takes no bool values, and its MatMul no integers; the CPU kernels take both.
        Value picked = g.node("Where").in(flag, flag, g.node("Not").in(flag).out()).named("bool_where").out();
        Value product = g.node("MatMul").in(ids, ids).named("integer_matmul").out();
        Value fine = g.node("MatMul").in(g.cast(ids, DType.FLOAT), g.cast(ids, DType.FLOAT)).named("float_matmul").out();
        g.output(picked);
        g.output(product);
        g.output(fine);
        List<NodeTypes.Node> nodes = NodeTypes.of("planted.onnx", ModelWriter.toProto(g, null));

        String where = TABLE.gap(node(nodes, "bool_where"));
        assertNotNull(where, "Where on bool values has no CUDA kernel");
        assertTrue(where.contains("tensor(bool)") && where.contains("'X'") && where.contains("16+"), where);
        String matmul = TABLE.gap(node(nodes, "integer_matmul"));
        assertNotNull(matmul, "MatMul on int64 has no CUDA kernel");
        assertTrue(matmul.contains("tensor(int64)"), matmul);
        assertNull(TABLE.gap(node(nodes, "float_matmul")), "MatMul on float has one");
        assertEquals("planted.onnx: node 'bool_where' Where (opset 17) inputs [tensor(bool), tensor(bool), tensor(bool)]"
                + " -> outputs [tensor(bool)]", node(nodes, "bool_where").describe());
    }

    @Test
    void anOpOrOpsetWithoutAnyCudaKernelIsReported() {
        CudaKernelTable table = CudaKernelTable.parse(List.of("domain\top\tsince\tuntil\tsignatures\tconstraints\tsource",
                "ai.onnx\tRelu\t18\t*\tX:T->Y:T\tT=tensor(float)\ttest"));
        NodeTypes.Node relu = new NodeTypes.Node("g", "r", "ai.onnx", "Relu", 17, List.of("tensor(float)"), List.of("tensor(float)"));
        NodeTypes.Node newer = new NodeTypes.Node("g", "r", "ai.onnx", "Relu", 18, List.of("tensor(float)"), List.of("tensor(float)"));
        NodeTypes.Node abs = new NodeTypes.Node("g", "a", "ai.onnx", "Abs", 17, List.of("tensor(float)"), List.of("tensor(float)"));
        assertEquals("CUDA has no kernel for opset 17 (its versions: 18+)", table.gap(relu));
        assertNull(table.gap(newer));
        assertEquals("CUDA has no kernel for ai.onnx::Abs at all", table.gap(abs));
    }

    @Test
    void anOutputTypeTheKernelDoesNotProduceIsReported() {
        CudaKernelTable table = CudaKernelTable.parse(List.of("domain\top\tsince\tuntil\tsignatures\tconstraints\tsource",
                "ai.onnx\tCast\t13\t18\tinput:T1->output:T2\tT1=tensor(float)|tensor(int64);T2=tensor(float)|tensor(int64)\ttest"));
        NodeTypes.Node toBf16 = new NodeTypes.Node("g", "c", "ai.onnx", "Cast", 17, List.of("tensor(float)"), List.of("tensor(bfloat16)"));
        assertTrue(table.gap(toBf16).contains("output 0 ('output', constraint T2) is tensor(bfloat16)"), table.gap(toBf16));
    }

    @Test
    void nodeTypesFailsOnAnOpItHasNoRuleFor() {
        OnnxMl.ModelProto model = OnnxMl.ModelProto.newBuilder()
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(OnnxMl.GraphProto.newBuilder().addNode(OnnxMl.NodeProto.newBuilder().setName("u").setOpType("Unique")))
                .build();
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> NodeTypes.of("m", model));
        assertTrue(e.getMessage().contains("node 'u' Unique") && e.getMessage().contains("no type rule"), e.getMessage());
    }

    private static NodeTypes.Node node(List<NodeTypes.Node> nodes, String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow();
    }
}
