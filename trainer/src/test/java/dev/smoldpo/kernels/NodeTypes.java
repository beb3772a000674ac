package dev.smoldpo.kernels;

import ai.onnx.proto.OnnxMl;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The element type of every input and output of every node of an ONNX file, read back from the
 * file: graph inputs and initializers give the first types, and a rule per operator gives each
 * node's outputs from its inputs and attributes (the files we write carry no value_info). Types are
 * ONNX's type strings ("tensor(float)", "seq(tensor(float))"), the form ORT's kernel tables use.
 *
 * <p>An operator without a rule here is an error naming it: a new op in our graphs needs its rule,
 * so that the kernel-coverage test sees its types instead of skipping it.
 */
final class NodeTypes {
    /** One node as the kernel check sees it; a null entry is an absent optional input. */
    record Node(String graph, String name, String domain, String op, long opset, List<String> inputs, List<String> outputs) {
        String describe() {
            return graph + ": node '" + name + "' " + (domain.equals("ai.onnx") ? "" : domain + "::") + op + " (opset " + opset
                    + ") inputs " + inputs + " -> outputs " + outputs;
        }
    }

    private NodeTypes() {}

    static List<Node> read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return of(file.getFileName().toString(), OnnxMl.ModelProto.parseFrom(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read ONNX model " + file, e);
        }
    }

    static List<Node> of(String graphName, OnnxMl.ModelProto model) {
        Map<String, Long> opsets = new HashMap<>();
        for (OnnxMl.OperatorSetIdProto o : model.getOpsetImportList()) {
            opsets.put(domain(o.getDomain()), o.getVersion());
        }
        OnnxMl.GraphProto g = model.getGraph();
        Map<String, String> types = new HashMap<>();
        for (OnnxMl.ValueInfoProto v : g.getInputList()) {
            types.put(v.getName(), typeOf(v.getType(), graphName + ": input '" + v.getName() + "'"));
        }
        for (OnnxMl.TensorProto t : g.getInitializerList()) {
            types.put(t.getName(), tensor(t.getDataType(), graphName + ": initializer '" + t.getName() + "'"));
        }
        List<Node> out = new ArrayList<>();
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            String domain = domain(n.getDomain());
            Long opset = opsets.get(domain);
            if (opset == null) {
                throw new IllegalStateException(graphName + ": node '" + n.getName() + "' is in domain " + domain
                        + ", which the model does not import");
            }
            List<String> in = new ArrayList<>();
            for (String name : n.getInputList()) {
                if (name.isEmpty()) {
                    in.add(null);
                    continue;
                }
                String t = types.get(name);
                if (t == null) {
                    throw new IllegalStateException(graphName + ": node '" + n.getName() + "' reads '" + name
                            + "', which no input, initializer or earlier node defines");
                }
                in.add(t);
            }
            List<String> outs = outputTypes(graphName, n, domain, in);
            if (outs.size() < n.getOutputCount()) {
                throw new IllegalStateException(graphName + ": node '" + n.getName() + "' " + n.getOpType() + " has "
                        + n.getOutputCount() + " outputs; NodeTypes types " + outs.size());
            }
            for (int i = 0; i < n.getOutputCount(); i++) {
                if (!n.getOutput(i).isEmpty()) {
                    types.put(n.getOutput(i), outs.get(i));
                }
            }
            out.add(new Node(graphName, n.getName(), domain, n.getOpType(), opset, in, outs.subList(0, n.getOutputCount())));
        }
        // The declared graph outputs check the rules above on every file read.
        for (OnnxMl.ValueInfoProto v : g.getOutputList()) {
            String declared = typeOf(v.getType(), graphName + ": output '" + v.getName() + "'");
            if (!declared.equals(types.get(v.getName()))) {
                throw new IllegalStateException(graphName + ": output '" + v.getName() + "' is declared " + declared
                        + " but NodeTypes infers " + types.get(v.getName()));
            }
        }
        return out;
    }

    private static String domain(String d) {
        return d.isEmpty() || d.equals("ai.onnx") ? "ai.onnx" : d;
    }

    /** The types of the node's outputs (as many as the op can have; callers take the node's count). */
    private static List<String> outputTypes(String graph, OnnxMl.NodeProto n, String domain, List<String> in) {
        String x = in.isEmpty() ? null : in.get(0);
        String where = graph + ": node '" + n.getName() + "' " + n.getOpType();
        String key = domain.equals("ai.onnx") ? n.getOpType() : domain + "::" + n.getOpType();
        return switch (key) {
            case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Neg", "Sqrt", "Reciprocal", "Exp", "Log", "Tanh",
                 "Sigmoid", "Softplus", "Relu", "Abs", "Sin", "Cos", "Erf", "Identity", "Not", "Softmax", "LogSoftmax",
                 "MatMul", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "Reshape", "Transpose", "Unsqueeze",
                 "Squeeze", "Concat", "Slice", "Gather", "GatherElements", "Expand", "ScatterElements", "ScatterND", "Pad",
                 "Trilu", "CumSum", "Tile", "Range", "com.microsoft::Gelu", "com.microsoft::FastGelu", "com.microsoft::FusedMatMul",
                 "com.microsoft::InplaceClipGradNorm", "com.microsoft::MatMulNBits" -> List.of(x);
            // the deployment dtypes' quantized ops (dev.smoldpo.onnx.quant): float32 out, or the scales' type
            case "com.microsoft::DynamicQuantizeMatMul" -> List.of("tensor(float)");
            case "com.microsoft::GatherBlockQuantized" -> List.of(in.get(2));
            case "Split" -> java.util.Collections.nCopies(Math.max(1, n.getOutputCount()), x);
            case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or" -> List.of("tensor(bool)");
            case "Shape", "Size", "NonZero" -> List.of("tensor(int64)");
            case "Where" -> List.of(in.get(1));
            case "Cast" -> List.of(tensor((int) intAttr(n, "to", where), where + " attribute 'to'"));
            case "ConstantOfShape" -> {
                OnnxMl.AttributeProto value = attr(n, "value");
                yield List.of(value == null ? "tensor(float)" : tensor(value.getT().getDataType(), where + " attribute 'value'"));
            }
            // ONNX's LayerNormalization: Mean and InvStdDev have the stash type, float by default.
            case "LayerNormalization" -> List.of(x, "tensor(float)", "tensor(float)");
            case "Dropout" -> List.of(x, "tensor(bool)");
            case "TopK" -> List.of(x, "tensor(int64)");
            case "SequenceAt" -> List.of(elementOf(x, where));
            case "SequenceConstruct" -> List.of("seq(" + x + ")");
            case "com.microsoft::InPlaceAccumulatorV2" -> List.of("tensor(bool)", x);
            case "com.microsoft::AdamWOptimizer" -> List.of("tensor(bool)", in.get(2), in.get(4), in.get(5));
            default -> throw new IllegalStateException(where + ": no type rule for " + key
                    + " in NodeTypes; add one so that the kernel check sees this op's types");
        };
    }

    private static String elementOf(String seq, String where) {
        if (seq == null || !seq.startsWith("seq(")) {
            throw new IllegalStateException(where + ": expects a sequence, got " + seq);
        }
        return seq.substring(4, seq.length() - 1);
    }

    private static OnnxMl.AttributeProto attr(OnnxMl.NodeProto n, String name) {
        for (OnnxMl.AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a;
            }
        }
        return null;
    }

    private static long intAttr(OnnxMl.NodeProto n, String name, String where) {
        OnnxMl.AttributeProto a = attr(n, name);
        if (a == null) {
            throw new IllegalStateException(where + ": attribute '" + name + "' is missing");
        }
        return a.getI();
    }

    private static String typeOf(OnnxMl.TypeProto t, String where) {
        if (t.hasSequenceType()) {
            return "seq(" + typeOf(t.getSequenceType().getElemType(), where) + ")";
        }
        if (t.hasTensorType()) {
            return tensor(t.getTensorType().getElemType(), where);
        }
        throw new IllegalStateException(where + ": neither a tensor nor a sequence of tensors");
    }

    /** ONNX TensorProto.DataType codes to type strings. */
    static String tensor(int code, String where) {
        String name = switch (code) {
            case 1 -> "float";
            case 2 -> "uint8";
            case 3 -> "int8";
            case 4 -> "uint16";
            case 5 -> "int16";
            case 6 -> "int32";
            case 7 -> "int64";
            case 8 -> "string";
            case 9 -> "bool";
            case 10 -> "float16";
            case 11 -> "double";
            case 12 -> "uint32";
            case 13 -> "uint64";
            case 16 -> "bfloat16";
            default -> throw new IllegalStateException(where + ": element type " + code + " is not known here");
        };
        return "tensor(" + name + ")";
    }
}
