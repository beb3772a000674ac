package dev.smoldpo.onnx;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Serialises a {@link Graph} to an ONNX ModelProto (ir_version 8, opsets {"": 17, "com.microsoft": 1}),
 * with large initializers as external data in a {@link SharedWeights} file.
 */
public final class ModelWriter {
    public static final long IR_VERSION = 8;
    public static final long DEFAULT_OPSET = 17;
    public static final long MS_OPSET = 1;
    public static final String PRODUCER = "smoldpo";

    private ModelWriter() {}

    /** Writes the model to {@code file}; {@code weights} may be null to keep everything inline. */
    public static void write(Graph graph, Path file, SharedWeights weights) {
        if (weights != null && !weights.path().toAbsolutePath().getParent().equals(file.toAbsolutePath().getParent())) {
            throw new IllegalArgumentException("external data must sit next to the model: " + weights.path() + " vs " + file);
        }
        OnnxMl.ModelProto model = toProto(graph, weights);
        try (OutputStream out = Files.newOutputStream(file)) {
            model.writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static OnnxMl.ModelProto toProto(Graph graph, SharedWeights weights) {
        OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName(graph.name());
        for (Value v : graph.inputs()) {
            g.addInput(valueInfo(v));
        }
        for (Value v : graph.initializers()) {
            g.addInitializer(tensor(v.name(), v.source(), weights));
        }
        for (Node n : graph.nodes()) {
            g.addNode(node(n));
        }
        for (Value v : graph.outputs()) {
            g.addOutput(valueInfo(v));
        }
        return OnnxMl.ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName(PRODUCER)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(DEFAULT_OPSET))
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(OpKey.MS_DOMAIN).setVersion(MS_OPSET))
                .setGraph(g)
                .build();
    }

    static OnnxMl.ValueInfoProto valueInfo(Value v) {
        OnnxMl.TypeProto.Tensor.Builder tensorType = OnnxMl.TypeProto.Tensor.newBuilder().setElemType(v.dtype().onnxCode);
        if (v.shape().hasRank()) {
            OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
            for (Dim d : v.shape().dims()) {
                OnnxMl.TensorShapeProto.Dimension.Builder dim = OnnxMl.TensorShapeProto.Dimension.newBuilder();
                if (d.isFixed()) {
                    dim.setDimValue(d.value());
                } else if (d.isSymbolic()) {
                    dim.setDimParam(d.symbol());
                }
                shape.addDim(dim);
            }
            tensorType.setShape(shape);
        }
        OnnxMl.TypeProto type = OnnxMl.TypeProto.newBuilder().setTensorType(tensorType).build();
        if (v.isSequence()) {
            type = OnnxMl.TypeProto.newBuilder()
                    .setSequenceType(OnnxMl.TypeProto.Sequence.newBuilder().setElemType(type)).build();
        }
        return OnnxMl.ValueInfoProto.newBuilder().setName(v.name()).setType(type).build();
    }

    static OnnxMl.TensorProto tensor(String name, TensorSource data, SharedWeights weights) {
        OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setName(name).setDataType(data.dtype().onnxCode);
        for (long d : data.dims()) {
            t.addDims(d);
        }
        if (weights != null && weights.shouldStoreExternally(data)) {
            SharedWeights.Location at = weights.place(name, data);
            t.setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL);
            t.addExternalData(entry("location", at.file()));
            t.addExternalData(entry("offset", Long.toString(at.offset())));
            t.addExternalData(entry("length", Long.toString(at.length())));
        } else if (data instanceof TensorData inMemory) {
            t.setRawData(ByteString.copyFrom(inMemory.raw().duplicate()));
        } else {
            throw new GraphException("initializer '" + name + "' is streamed and needs an external-data file");
        }
        return t.build();
    }

    private static OnnxMl.StringStringEntryProto entry(String key, String value) {
        return OnnxMl.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    static OnnxMl.NodeProto node(Node n) {
        OnnxMl.NodeProto.Builder b = OnnxMl.NodeProto.newBuilder().setName(n.name()).setOpType(n.opType());
        if (!n.domain().isEmpty()) {
            b.setDomain(n.domain());
        }
        for (Value in : n.inputs()) {
            b.addInput(in == null ? "" : in.name());
        }
        for (Value out : n.outputs()) {
            b.addOutput(out.name());
        }
        for (Map.Entry<String, Object> e : n.attributes().entrySet()) {
            b.addAttribute(attribute(n, e.getKey(), e.getValue()));
        }
        return b.build();
    }

    private static OnnxMl.AttributeProto attribute(Node n, String key, Object value) {
        OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName(key);
        switch (value) {
            case Long l -> a.setType(OnnxMl.AttributeProto.AttributeType.INT).setI(l);
            case Integer i -> a.setType(OnnxMl.AttributeProto.AttributeType.INT).setI(i);
            case Double d -> a.setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF(d.floatValue());
            case Float f -> a.setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF(f);
            case String s -> a.setType(OnnxMl.AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(s));
            case long[] ls -> {
                a.setType(OnnxMl.AttributeProto.AttributeType.INTS);
                for (long l : ls) {
                    a.addInts(l);
                }
            }
            case double[] ds -> {
                a.setType(OnnxMl.AttributeProto.AttributeType.FLOATS);
                for (double d : ds) {
                    a.addFloats((float) d);
                }
            }
            case TensorData t -> a.setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(tensor("", t, null));
            default -> throw new GraphException(n + ": attribute '" + key + "' has unsupported type " + value.getClass());
        }
        return a.build();
    }
}
