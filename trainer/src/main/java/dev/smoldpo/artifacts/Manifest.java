package dev.smoldpo.artifacts;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * manifest.json: what an artifacts folder holds and how to call it. Trainers read it instead of
 * guessing input names; {@code extra} carries model-specific settings (model, LoRA and loss configs).
 */
public record Manifest(int formatVersion, String name, String producer, Map<String, String> files,
                       List<TensorSpec> trainInputs, List<TensorSpec> evalInputs, List<TensorSpec> outputs,
                       List<TensorSpec> parameters, AdamWConfig optimizer, Map<String, Object> extra) {
    public static final int FORMAT_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** A tensor's name, element type and shape (symbolic dims as names, unknown as "?"). */
    public record TensorSpec(String name, String dtype, List<String> shape) {}

    public void write(Path file) {
        try {
            JSON.writeValue(file.toFile(), this);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static Manifest read(Path file) {
        try {
            return JSON.readValue(file.toFile(), Manifest.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read manifest " + file, e);
        }
    }
}
