package dev.smoldpo.artifacts.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import dev.smoldpo.onnx.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointRoundTripTest {
    @TempDir
    Path dir;

    /** Odd values on purpose: NaN payloads, -0.0, infinities, denormals must survive bit for bit. */
    static Checkpoint sample() {
        float[] w = {1.5f, -0.0f, Float.intBitsToFloat(0x7fc01234), Float.POSITIVE_INFINITY, Float.MIN_VALUE, -3e38f};
        CheckpointTensor weight = CheckpointTensor.ofFloats("layer0.weight", new long[] {2, 3}, w);
        CheckpointTensor bias = CheckpointTensor.ofFloats("layer0.bias", new long[] {2}, 0.25f, -7f);
        ByteBuffer longs = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        longs.putLong(Long.MIN_VALUE).putLong(-1).putLong(42).flip();
        CheckpointTensor ids = new CheckpointTensor("token_ids", new long[] {3}, DType.INT64, longs);
        CheckpointTensor flags = new CheckpointTensor("mask", new long[] {1, 3}, DType.BOOL,
                ByteBuffer.wrap(new byte[] {1, 0, 1}));
        CheckpointTensor half = new CheckpointTensor("scale", new long[0], DType.FLOAT16, ByteBuffer.wrap(new byte[] {0x00, 0x3c}));
        CheckpointTensor empty = CheckpointTensor.ofFloats("nothing", new long[] {0, 4});

        Map<String, List<CheckpointTensor>> moments = new LinkedHashMap<>();
        moments.put("layer0.bias", List.of(
                CheckpointTensor.ofFloats(OptimizerGroup.FIRST_MOMENT, new long[] {2}, 0.01f, -0.02f),
                CheckpointTensor.ofFloats(OptimizerGroup.SECOND_MOMENT, new long[] {2}, 1e-4f, 4e-4f)));
        moments.put("layer0.weight", List.of(
                CheckpointTensor.ofFloats(OptimizerGroup.FIRST_MOMENT, new long[] {2, 3}, 1, 2, 3, 4, 5, 6),
                CheckpointTensor.ofFloats(OptimizerGroup.SECOND_MOMENT, new long[] {2, 3}, 6, 5, 4, 3, 2, 1)));
        OptimizerGroup group = new OptimizerGroup(OptimizerGroup.DEFAULT_GROUP, 1234567890123L, 3e-4f, moments);

        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("epoch", 7L);
        properties.put("global_step", Long.MAX_VALUE);
        properties.put("negative", -5);            // an Integer, held as Long
        properties.put("best_loss", 0.6931472f);
        properties.put("beta", 0.1);               // a Double, held as Float
        properties.put("run", "dpo run – ünïcödé ✓");
        properties.put("empty", "");
        return new Checkpoint(List.of(weight, bias), List.of(ids, flags, half, empty), List.of(group), properties);
    }

    @Test
    void writeThenReadGivesBackTheSameCheckpointBitForBit() {
        Checkpoint original = sample();
        Path file = dir.resolve("model.ckpt");
        CheckpointWriter.write(original, file);

        Checkpoint read = CheckpointReader.read(file);
        assertEquals(original, read);
        for (CheckpointTensor t : original.trainable()) {
            assertBytesEqual(t, read.parameter(t.name()));
        }
        for (CheckpointTensor t : original.frozen()) {
            assertBytesEqual(t, read.parameter(t.name()));
        }
        float[] w = read.parameter("layer0.weight").toFloatArray();
        assertEquals(0x7fc01234, Float.floatToRawIntBits(w[2]), "NaN payload kept");
        assertEquals(0x80000000, Float.floatToRawIntBits(w[1]), "-0.0 kept");
        assertEquals(List.of("layer0.weight", "layer0.bias"), read.trainable().stream().map(CheckpointTensor::name).toList());

        OptimizerGroup g = read.optimizerGroup("group0");
        assertNotNull(g);
        assertEquals(1234567890123L, g.step());
        assertEquals(3e-4f, g.initialLearningRate());
        assertArrayEquals(new float[] {6, 5, 4, 3, 2, 1}, g.moment("layer0.weight", "momentum1").toFloatArray());

        Map<String, Object> p = read.properties();
        assertEquals(7L, p.get("epoch"));
        assertEquals(Long.MAX_VALUE, p.get("global_step"));
        assertEquals(-5L, p.get("negative"));
        assertEquals(0.6931472f, p.get("best_loss"));
        assertEquals(0.1f, p.get("beta"));
        assertEquals("dpo run – ünïcödé ✓", p.get("run"));
        assertEquals("", p.get("empty"));
        assertEquals(7, p.size());
        // No temp files left behind, no side file for a small checkpoint.
        assertEquals(List.of("model.ckpt"), list(dir));
    }

    @Test
    void fileHasTheOrtIdentifierVersionAndAlwaysFrozenParams() throws IOException {
        Checkpoint onlyTrainable = Checkpoint.of(List.of(CheckpointTensor.ofFloats("w", new long[] {1}, 2f)), List.of());
        Path file = dir.resolve("c.ckpt");
        CheckpointWriter.write(onlyTrainable, file);
        byte[] bytes = Files.readAllBytes(file);
        assertEquals("ODTC", new String(bytes, 4, 4, StandardCharsets.US_ASCII));

        FbTable root = FbTable.root(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN), "Checkpoint");
        assertEquals(2, root.getInt(CheckpointSchema.CheckpointT.VERSION, "version", 0));
        FbTable module = root.getTable(CheckpointSchema.CheckpointT.MODULE_STATE, "module_state", "ModuleState");
        assertTrue(module.has(CheckpointSchema.ModuleStateT.FROZEN_PARAMS), "frozen_params present although empty");
        assertEquals(0, module.vectorSize(CheckpointSchema.ModuleStateT.FROZEN_PARAMS, "frozen_params"));
        assertFalse(module.getBool(CheckpointSchema.ModuleStateT.HAS_EXTERNAL_DATA, "has_external_data", false));
        assertTrue(root.has(CheckpointSchema.CheckpointT.PROPERTY_BAG));

        Checkpoint read = CheckpointReader.read(file);
        assertEquals(onlyTrainable, read);
        assertTrue(read.frozen().isEmpty() && read.optimizerGroups().isEmpty() && read.properties().isEmpty());
        assertTrue(CheckpointReader.looksLikeCheckpoint(file));
    }

    @Test
    void externalDataGoesToTheSideFileAndReadsBack() throws IOException {
        Checkpoint original = sample();
        Path file = dir.resolve("big.ckpt");
        CheckpointWriter.write(original, file, 0);
        Path side = CheckpointReader.externalDataPath(file);
        assertEquals("big.ckpt.data", side.getFileName().toString());
        assertTrue(Files.isRegularFile(side));

        FbTable root = FbTable.root(ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN), "Checkpoint");
        FbTable module = root.getTable(CheckpointSchema.CheckpointT.MODULE_STATE, "module_state", "ModuleState");
        assertTrue(module.getBool(CheckpointSchema.ModuleStateT.HAS_EXTERNAL_DATA, "has_external_data", false));
        for (FbTable t : module.getTables(CheckpointSchema.ModuleStateT.REQUIRES_GRAD_PARAMS, "requires_grad_params", "Tensor")) {
            long offset = t.getLong(CheckpointSchema.TensorT.EXTERNAL_DATA_OFFSET, "external_data_offset", -1);
            assertTrue(offset >= 0 && offset % CheckpointWriter.EXTERNAL_ALIGNMENT == 0, "offset " + offset);
            assertFalse(t.has(CheckpointSchema.TensorT.RAW_DATA));
        }

        Checkpoint read = CheckpointReader.read(file);
        assertEquals(original, read);
        assertBytesEqual(original.parameter("token_ids"), read.parameter("token_ids"));

        // In memory there is no side file to reach.
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> CheckpointReader.read(ByteBuffer.wrap(Files.readAllBytes(file))));
        assertTrue(e.getMessage().contains("external"), e.getMessage());

        // A missing side file is named in the error.
        Files.delete(side);
        e = assertThrows(CheckpointFormatException.class, () -> CheckpointReader.read(file));
        assertTrue(e.getMessage().contains("big.ckpt.data"), e.getMessage());

        // Rewriting the same name inline removes the stale side file.
        CheckpointWriter.write(original, file, 0);
        assertTrue(Files.exists(side));
        CheckpointWriter.write(original, file);
        assertFalse(Files.exists(side));
        assertEquals(original, CheckpointReader.read(file));
    }

    @Test
    void overwritingIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("a.ckpt");
        CheckpointWriter.write(sample(), file);
        Checkpoint second = Checkpoint.of(List.of(CheckpointTensor.ofFloats("only", new long[] {2}, 1f, 2f)), List.of());
        CheckpointWriter.write(second, file);
        assertEquals(second, CheckpointReader.read(file));
        assertEquals(List.of("a.ckpt"), list(dir));
    }

    @Test
    void notACheckpointIsRejectedClearly() throws IOException {
        Path onnx = dir.resolve("model.onnx");
        Files.write(onnx, new byte[] {0x08, 0x08, 0x12, 0x07, 's', 'm', 'o', 'l', 'd', 'p', 'o'});
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> CheckpointReader.read(onnx));
        assertTrue(e.getMessage().contains("not an ONNX Runtime training checkpoint"), e.getMessage());
        assertTrue(e.getMessage().contains("model.onnx"), e.getMessage());
        assertFalse(CheckpointReader.looksLikeCheckpoint(onnx));

        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[] {1, 2, 3});
        e = assertThrows(CheckpointFormatException.class, () -> CheckpointReader.read(tiny));
        assertTrue(e.getMessage().contains("only 3 bytes"), e.getMessage());

        // An ORT inference model in flatbuffer form: right container, wrong identifier.
        FlatBufferBuilder b = new FlatBufferBuilder();
        b.startTable(1);
        int root = b.endTable();
        b.finish(root, "ORTM");
        e = assertThrows(CheckpointFormatException.class, () -> CheckpointReader.read(b.dataBuffer()));
        assertTrue(e.getMessage().contains("\"ORTM\""), e.getMessage());
    }

    @Test
    void onlyVersionTwoIsAccepted() {
        for (int version : new int[] {0, 1, 3}) {
            FlatBufferBuilder b = new FlatBufferBuilder();
            b.startTable(CheckpointSchema.CheckpointT.FIELDS);
            b.addInt(CheckpointSchema.CheckpointT.VERSION, version, 0);
            int root = b.endTable();
            b.finish(root, "ODTC");
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                    () -> CheckpointReader.read(b.dataBuffer()));
            assertTrue(e.getMessage().contains("version " + version + " is not supported"), e.getMessage());
        }
    }

    @Test
    void everyTruncationIsDetected() {
        ByteBuffer whole = CheckpointWriter.toBuffer(sample());
        byte[] bytes = new byte[whole.remaining()];
        whole.get(bytes);
        assertEquals(sample(), CheckpointReader.read(ByteBuffer.wrap(bytes)));
        int undetected = 0;
        for (int length = 0; length < bytes.length; length++) {
            ByteBuffer cut = ByteBuffer.wrap(bytes, 0, length).slice();
            try {
                Checkpoint read = CheckpointReader.read(cut);
                // Only trailing alignment padding may go unnoticed, and then nothing was lost.
                assertEquals(sample(), read, "a checkpoint cut to " + length + " of " + bytes.length + " bytes");
                undetected++;
            } catch (CheckpointFormatException expected) {
                // the point of the test
            }
        }
        assertTrue(undetected <= 1, undetected + " truncations went unnoticed");
    }

    @Test
    void corruptBytesGiveFormatErrorsNotCrashes() {
        ByteBuffer whole = CheckpointWriter.toBuffer(sample());
        byte[] clean = new byte[whole.remaining()];
        whole.get(clean);
        Random random = new Random(20240611);
        int rejected = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] bytes = clean.clone();
            int flips = 1 + random.nextInt(4);
            for (int f = 0; f < flips; f++) {
                // Keep the identifier so the structure below it gets exercised.
                int at = 8 + random.nextInt(bytes.length - 8);
                bytes[at] = (byte) random.nextInt(256);
            }
            try {
                CheckpointReader.read(ByteBuffer.wrap(bytes));
            } catch (CheckpointFormatException expected) {
                rejected++;
            } catch (RuntimeException e) {
                throw new AssertionError("corruption #" + i + " gave " + e, e);
            }
        }
        assertTrue(rejected > 100, "only " + rejected + " corruptions detected");
    }

    @Test
    void recordsRejectInconsistentInput() {
        assertThrows(IllegalArgumentException.class,
                () -> new CheckpointTensor("w", new long[] {2, 2}, DType.FLOAT, ByteBuffer.allocate(12)));
        CheckpointTensor w = CheckpointTensor.ofFloats("w", new long[] {1}, 1f);
        assertThrows(IllegalArgumentException.class, () -> Checkpoint.of(List.of(w), List.of(w)));
        assertThrows(IllegalArgumentException.class,
                () -> new Checkpoint(List.of(w), List.of(), List.of(), Map.of("bad", new Object())));
        // Equality is by content, not by array identity.
        assertEquals(w, CheckpointTensor.ofFloats("w", new long[] {1}, 1f));
        assertFalse(w.equals(CheckpointTensor.ofFloats("w", new long[] {1}, 2f)));
    }

    private static void assertBytesEqual(CheckpointTensor expected, CheckpointTensor actual) {
        assertNotNull(actual, expected.name());
        assertEquals(expected.dtype(), actual.dtype());
        assertArrayEquals(expected.dims(), actual.dims());
        assertArrayEquals(bytes(expected.rawLittleEndian()), bytes(actual.rawLittleEndian()), expected.name());
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    private static List<String> list(Path folder) {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
