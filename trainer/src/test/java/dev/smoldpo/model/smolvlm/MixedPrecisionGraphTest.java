package dev.smoldpo.model.smolvlm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.ArtifactBuilder;
import dev.smoldpo.artifacts.Parameter;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.onnx.DType;
import dev.smoldpo.onnx.Graph;
import dev.smoldpo.onnx.Node;
import dev.smoldpo.onnx.OpTypeCensus;
import dev.smoldpo.onnx.Value;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The element types of the bf16 and fp16 graphs (demo model, adapters on vision and text, LoRA
 * dropout on): matmuls in the compute type, the delicate parts in FLOAT, FLOAT LoRA masters with
 * FLOAT gradients, frozen weights in the compute type, and every half-precision op one that ORT's
 * CUDA provider has a kernel of that type for. None of it runs on the CPU (no bfloat16 MatMul there):
 * this checks the graphs as built, with every value's type.
 */
class MixedPrecisionGraphTest {
    @TempDir
    static Path root;
    static ModelConfig config;
    static SafetensorsFile weights;

    @BeforeAll
    static void demo() throws Exception {
        Path dir = DemoModel.write(root.resolve("demo"), 7);
        config = ModelConfig.load(dir);
        weights = SafetensorsFile.open(dir.resolve("model.safetensors"));
    }

    @AfterAll
    static void close() {
        weights.close();
    }

    static SmolVlmDpoModel model(NumericTypes types) {
        return new SmolVlmDpoModel(config, new FrozenWeights(weights), new LoraConfig(4, 8, 0.1, LoraConfig.DEFAULT_TARGETS, false),
                DpoConfig.DEFAULT, 3, types);
    }

    /** The training graph (forward, backward, accumulators) and the reference graph. */
    static List<Graph> graphs(Precision p) {
        SmolVlmDpoModel m = model(p.types());
        assertTrue(m.adaptsVision(), "adapters in the vision tower too");
        return List.of(ArtifactBuilder.trainingGraph(m, m.trainableParameters()), m.referenceGraph());
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"BF16", "FP16"})
    void everyMatMulRunsInTheComputeTypeButThePerPairSums(Precision p) {
        DType compute = p.computeType();
        for (Graph g : graphs(p)) {
            int inCompute = 0;
            for (Node n : g.nodes()) {
                if (!n.opType().equals("MatMul")) {
                    continue;
                }
                if (n.input(0).dtype() == compute && n.input(1).dtype() == compute) {
                    inCompute++;
                } else {
                    // [pairs, rows] x [rows, 1]: the per-pair sums of the log-probs (and their gradients), FLOAT
                    assertTrue(n.input(0).dtype() == DType.FLOAT && n.input(1).dtype() == DType.FLOAT && isPerPairSum(n),
                            g.name() + ": " + n + " has inputs " + n.inputs());
                }
            }
            // forward: 6 per vision layer, 7 per text layer, patch embedding, connector, the head, attention's 2 per layer
            int layers = config.vision().numHiddenLayers() * 8 + config.text().numHiddenLayers() * 9 + 3;
            assertTrue(inCompute >= layers, g.name() + ": " + inCompute + " MatMuls in " + compute);
        }
    }

    /** Whether one input of a MatMul is the chosen_rows/rejected_rows selection (or its transpose). */
    private static boolean isPerPairSum(Node n) {
        for (Value in : n.inputs()) {
            Value v = in.producer() != null && in.producer().opType().equals("Transpose") ? in.producer().input(0) : in;
            if (v.name().equals(SmolVlmInputs.CHOSEN_ROWS) || v.name().equals(SmolVlmInputs.REJECTED_ROWS)) {
                return true;
            }
        }
        return false;
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"BF16", "FP16"})
    void softmaxNormsLogProbsAndTheLossAreFloat(Precision p) {
        // forward and backward: the gradient rules of these ops emit other ops, so every one of them is a forward node
        Set<String> floatOnly = Set.of("Softmax", "LogSoftmax", "LayerNormalization", "ReduceMean", "Sqrt", "Softplus",
                "GatherElements");
        for (Graph g : graphs(p)) {
            Set<String> seen = new HashSet<>();
            for (Node n : g.nodes()) {
                if (floatOnly.contains(n.opType())) {
                    assertEquals(DType.FLOAT, n.input(0).dtype(), g.name() + ": " + n);
                    seen.add(n.opType());
                }
                if (g.name().equals("reference") && n.opType().equals("Where")) {
                    assertEquals(DType.FLOAT, n.input(1).dtype(), "masked scores: " + n);
                }
            }
            assertTrue(seen.containsAll(Set.of("Softmax", "LogSoftmax", "LayerNormalization", "ReduceMean", "Sqrt",
                    "GatherElements")), g.name() + " has them all: " + seen);
            for (Value out : g.outputs()) {
                assertTrue(out.dtype() == DType.FLOAT || out.dtype() == DType.BOOL, g.name() + ": output " + out);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"BF16", "FP16"})
    void loraMastersAndTheirGradientsAreFloat(Precision p) {
        SmolVlmDpoModel m = model(p.types());
        Graph training = ArtifactBuilder.trainingGraph(m, m.trainableParameters());
        for (Parameter param : m.trainableParameters()) {
            assertEquals(DType.FLOAT, param.initial().dtype(), param.name());
            Value master = training.value(param.name());
            assertEquals(DType.FLOAT, master.dtype(), param.name());
            List<Node> users = training.nodes().stream().filter(n -> n.inputs().contains(master)).toList();
            assertEquals(1, users.size(), param.name() + " is used once, by " + users);
            assertEquals("Cast", users.get(0).opType());
            assertEquals(p.computeType(), users.get(0).output(0).dtype(), "cast to the compute type where it is used");
        }
        int accumulators = 0;
        for (Node n : training.nodes()) {
            if (n.opType().equals("InPlaceAccumulatorV2")) {
                accumulators++;
                Value gradient = n.input(1);
                assertEquals(DType.FLOAT, n.input(0).dtype(), "buffer of " + n);
                assertEquals(DType.FLOAT, gradient.dtype(), "gradient of " + n);
                assertEquals("Cast", gradient.producer().opType(), "the Cast rule brings the gradient back to FLOAT");
                assertEquals(p.computeType(), gradient.producer().input(0).dtype());
            }
        }
        assertEquals(m.trainableParameters().size(), accumulators);
    }

    @ParameterizedTest
    @EnumSource(value = Precision.class, names = {"BF16", "FP16"})
    void frozenWeightsAreStoredInTheComputeTypeAndNormParametersInFloat(Precision p) {
        Set<String> checkpointNames = new HashSet<>(weights.names());
        for (Graph g : graphs(p)) {
            List<String> half = new ArrayList<>();
            List<String> norms = new ArrayList<>();
            for (Value init : g.initializers()) {
                String source = init.name().endsWith(".T") ? init.name().substring(0, init.name().length() - 2) : init.name();
                if (!checkpointNames.contains(source)) {
                    continue; // graph constants (axes, shapes, scalars)
                }
                if (source.contains("norm")) {
                    assertEquals(DType.FLOAT, init.dtype(), init.name());
                    norms.add(init.name());
                } else {
                    assertEquals(p.computeType(), init.dtype(), init.name());
                    half.add(init.name());
                }
            }
            assertTrue(half.size() > 4 * config.text().numHiddenLayers() && !norms.isEmpty(), half + " " + norms);
        }
    }

    @Test
    void float32GraphsHaveNoHalfPrecisionValues() {
        for (Graph g : graphs(Precision.FP32)) {
            for (OpTypeCensus.Signature s : OpTypeCensus.of(g)) {
                assertTrue(!s.uses(DType.BFLOAT16) && !s.uses(DType.FLOAT16), g.name() + ": " + s);
            }
        }
    }

    @Test
    void theCpuTwinWidensBfloat16WeightsOnceEachAndComputesInFloat() {
        Graph g = model(NumericTypes.widened(DType.BFLOAT16)).referenceGraph();
        long widened = g.nodes().stream().filter(n -> n.opType().equals("Cast") && n.input(0).kind() == Value.Kind.INITIALIZER
                && n.input(0).dtype() == DType.BFLOAT16).count();
        long bf16Initializers = g.initializers().stream().filter(v -> v.dtype() == DType.BFLOAT16).count();
        assertEquals(bf16Initializers, widened, "one Cast per bfloat16 weight");
        for (OpTypeCensus.Signature s : OpTypeCensus.of(g)) {
            assertTrue(s.op().equals("Cast") || !s.uses(DType.BFLOAT16), "only Casts see bfloat16: " + s);
        }
    }

    @Test
    void theTrainableParametersDoNotDependOnThePrecision() {
        // the trainable parameters (values included) are the same for every precision: one init, FLOAT
        List<Parameter> fp32 = model(NumericTypes.FP32).trainableParameters();
        List<Parameter> bf16 = model(Precision.BF16.types()).trainableParameters();
        assertEquals(fp32.size(), bf16.size());
        for (int i = 0; i < fp32.size(); i++) {
            assertEquals(fp32.get(i).name(), bf16.get(i).name());
            assertEquals(fp32.get(i).initial().raw(), bf16.get(i).initial().raw(), fp32.get(i).name());
        }
    }
}
