package dev.smoldpo.runtime;

import ai.onnx.proto.OnnxMl;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The initializers an ONNX model keeps as external data (ONNX's external-data convention: "location",
 * "offset" and "length" entries, the location relative to the model's folder), read without loading them.
 */
record ExternalInitializers(List<Tensor> tensors) {

    /** One tensor: its ONNX element type code, dims, and where its bytes are. */
    record Tensor(String name, int elementType, long[] dims, Path dataFile, long offset, long length) {}

    static ExternalInitializers of(Path model) {
        OnnxMl.ModelProto proto;
        try (InputStream in = Files.newInputStream(model)) {
            proto = OnnxMl.ModelProto.parseFrom(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read ONNX model " + model, e);
        }
        Path folder = model.toAbsolutePath().getParent();
        List<Tensor> tensors = new ArrayList<>();
        for (OnnxMl.TensorProto t : proto.getGraph().getInitializerList()) {
            if (t.getDataLocation() != OnnxMl.TensorProto.DataLocation.EXTERNAL) {
                continue;
            }
            String location = null;
            long offset = 0;
            long length = -1;
            for (OnnxMl.StringStringEntryProto e : t.getExternalDataList()) {
                switch (e.getKey()) {
                    case "location" -> location = e.getValue();
                    case "offset" -> offset = Long.parseLong(e.getValue());
                    case "length" -> length = Long.parseLong(e.getValue());
                    default -> { }
                }
            }
            if (location == null || length < 0) {
                throw new IllegalArgumentException(model + ": external initializer '" + t.getName()
                        + "' lacks its location or length");
            }
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            tensors.add(new Tensor(t.getName(), t.getDataType(), dims, folder.resolve(location).normalize(), offset, length));
        }
        return new ExternalInitializers(List.copyOf(tensors));
    }
}
