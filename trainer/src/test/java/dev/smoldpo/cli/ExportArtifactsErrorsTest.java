package dev.smoldpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsFile;
import dev.smoldpo.hf.SafetensorsWriter;
import dev.smoldpo.hf.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad checkpoints fail the export with a clear message and a non-zero exit code, and leave nothing
 * in the output folder's parent: no artifacts, no half-written temporary folder.
 */
class ExportArtifactsErrorsTest {
    @TempDir
    Path dir;
    Path model;
    Path outParent;

    @BeforeEach
    void demo() throws Exception {
        model = DemoModel.write(dir.resolve("model"), 5);
        outParent = Files.createDirectories(dir.resolve("out"));
    }

    /** Runs the export and returns stderr; asserts exit code 1 and an empty output parent. */
    private String failingExport() throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("export-artifacts", model.toString(), "--out", outParent.resolve("artifacts").toString());
        } finally {
            System.setErr(old);
        }
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, code, message);
        try (Stream<Path> left = Files.list(outParent)) {
            assertTrue(left.findAny().isEmpty(), "nothing may be left in " + outParent);
        }
        return message;
    }

    private Path weights() {
        return model.resolve("model.safetensors");
    }

    @Test
    void theDemoItselfExports() {
        assertEquals(0, Main.run("export-artifacts", model.toString(), "--out", outParent.resolve("ok").toString()));
        assertTrue(Files.exists(outParent.resolve("ok/reference_model.onnx")));
        assertTrue(Files.exists(outParent.resolve("ok/tokenizer.json")));
    }

    @Test
    void missingWeights() throws Exception {
        Files.delete(weights());
        assertTrue(failingExport().contains("model.safetensors is missing"));
    }

    @Test
    void pickleCheckpointsAreRefused() throws Exception {
        Files.delete(weights());
        Files.write(model.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 'c', 'x'});
        String err = failingExport();
        assertTrue(err.contains("pickle") && err.contains("pytorch_model.bin"), err);
    }

    @Test
    void truncatedWeights() throws Exception {
        byte[] all = Files.readAllBytes(weights());
        Files.write(weights(), Arrays.copyOf(all, all.length - 100));
        String err = failingExport();
        assertTrue(err.contains("truncated") || err.contains("outside the data area"), err);
    }

    @Test
    void headerLengthOverflow() throws Exception {
        byte[] all = Files.readAllBytes(weights());
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, Long.MAX_VALUE / 2);
        Files.write(weights(), all);
        String err = failingExport();
        assertTrue(err.toLowerCase().contains("header"), err);
    }

    @Test
    void wrongDtype() throws Exception {
        byte[] all = Files.readAllBytes(weights());
        String text = new String(all, StandardCharsets.ISO_8859_1);
        Files.write(weights(), text.replaceFirst("\"F32\"", "\"Q77\"").getBytes(StandardCharsets.ISO_8859_1));
        String err = failingExport();
        assertTrue(err.contains("Q77"), err);
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        String dropped = "model.text_model.layers.1.mlp.down_proj.weight";
        rewriteWithout(dropped);
        String err = failingExport();
        assertTrue(err.contains(dropped) && err.contains("missing"), err);
    }

    @Test
    void configAndWeightsWithMismatchedShapes() throws Exception {
        Path config = model.resolve("config.json");
        String json = Files.readString(config);
        Files.writeString(config, json.replace("\"intermediate_size\": 64", "\"intermediate_size\": 48"));
        String err = failingExport();
        assertTrue(err.contains("mlp") && err.contains("48"), err);
    }

    @Test
    void unknownModelType() throws Exception {
        Path config = model.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"model_type\": \"idefics3\"", "\"model_type\": \"gpt2\""));
        String err = failingExport();
        assertTrue(err.contains("gpt2"), err);
    }

    @Test
    void aFileOrGarbageArgument() throws Exception {
        model = weights(); // a file, not a folder
        assertTrue(failingExport().contains("checkpoint folder"));
        model = dir.resolve("no such thing here");
        assertTrue(failingExport().contains("neither a folder nor a hub id"));
    }

    private void rewriteWithout(String dropped) throws Exception {
        SafetensorsWriter writer = new SafetensorsWriter();
        try (SafetensorsFile file = SafetensorsFile.open(weights())) {
            for (String name : file.names()) {
                if (!name.equals(dropped)) {
                    TensorInfo info = file.info(name);
                    writer.add(name, SafetensorsDtype.F32, info.shape(), file.readFloat32(name));
                }
            }
        }
        Path copy = dir.resolve("without.safetensors");
        writer.write(copy);
        Files.move(copy, weights(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertFalse(ModelConfig.load(model).expectedWeights().isEmpty());
    }
}
