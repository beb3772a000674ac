package dev.smoldpo.onnx;

import ai.onnx.proto.OnnxMl;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What an ONNX file holds, read back for inspection and tests: inputs, outputs, initializers and
 * node counts per op. Weights are not loaded (external data stays where it is).
 */
public record ModelSummary(long irVersion, Map<String, Long> opsets, List<Tensor> inputs, List<Tensor> outputs,
                           List<Tensor> initializers, Map<String, Integer> opCounts, int nodeCount,
                           List<String> externalDataFiles) {

    /** A tensor's name, element type (null for sequences) and shape as text (e.g. "[batch, 4]"). */
    public record Tensor(String name, DType dtype, String shape, boolean sequence) {}

    public static ModelSummary read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return of(OnnxMl.ModelProto.parseFrom(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read ONNX model " + file, e);
        }
    }

    public static ModelSummary of(OnnxMl.ModelProto model) {
        Map<String, Long> opsets = new LinkedHashMap<>();
        for (OnnxMl.OperatorSetIdProto o : model.getOpsetImportList()) {
            opsets.put(o.getDomain(), o.getVersion());
        }
        OnnxMl.GraphProto g = model.getGraph();
        Map<String, Integer> counts = new TreeMap<>();
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            counts.merge(OpKey.of(n.getDomain(), n.getOpType()), 1, Integer::sum);
        }
        List<Tensor> initializers = new ArrayList<>();
        List<String> files = new ArrayList<>();
        for (OnnxMl.TensorProto t : g.getInitializerList()) {
            initializers.add(new Tensor(t.getName(), DType.fromOnnx(t.getDataType()), t.getDimsList().toString(), false));
            for (OnnxMl.StringStringEntryProto e : t.getExternalDataList()) {
                if (e.getKey().equals("location") && !files.contains(e.getValue())) {
                    files.add(e.getValue());
                }
            }
        }
        return new ModelSummary(model.getIrVersion(), opsets, tensors(g.getInputList()), tensors(g.getOutputList()),
                initializers, counts, g.getNodeCount(), files);
    }

    private static List<Tensor> tensors(List<OnnxMl.ValueInfoProto> infos) {
        List<Tensor> out = new ArrayList<>();
        for (OnnxMl.ValueInfoProto v : infos) {
            OnnxMl.TypeProto type = v.getType();
            if (type.hasSequenceType()) {
                out.add(new Tensor(v.getName(), null, "seq", true));
                continue;
            }
            OnnxMl.TypeProto.Tensor t = type.getTensorType();
            List<String> dims = new ArrayList<>();
            for (OnnxMl.TensorShapeProto.Dimension d : t.getShape().getDimList()) {
                dims.add(d.hasDimValue() ? Long.toString(d.getDimValue()) : d.hasDimParam() ? d.getDimParam() : "?");
            }
            out.add(new Tensor(v.getName(), DType.fromOnnx(t.getElemType()), t.hasShape() ? dims.toString() : "?", false));
        }
        return out;
    }

    public List<String> inputNames() {
        return inputs.stream().map(Tensor::name).toList();
    }

    public List<String> outputNames() {
        return outputs.stream().map(Tensor::name).toList();
    }

    public List<String> initializerNames() {
        return initializers.stream().map(Tensor::name).toList();
    }
}
