package dev.smoldpo.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian() * 3f;
        }
        return v;
    }

    private static float[] bf16Representable(float[] v) {
        float[] o = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = Float.intBitsToFloat(Float.floatToRawIntBits(v[i]) & 0xFFFF0000);
        }
        return o;
    }

    private static float[] f16Representable(float[] v) {
        float[] o = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
        }
        return o;
    }

    @Test
    void roundTripF32Bf16F16() throws IOException {
        float[] a = random(6, 1);
        float[] b = bf16Representable(random(24, 2));
        float[] c = f16Representable(random(5, 3));
        float[] scalar = {42.5f};
        Path f = dir.resolve("m.safetensors");
        new SafetensorsWriter()
                .add("a", SafetensorsDtype.F32, new long[] {2, 3}, a)
                .add("b.weight", SafetensorsDtype.BF16, new long[] {2, 3, 4}, b)
                .add("c", SafetensorsDtype.F16, new long[] {5}, c)
                .add("s", SafetensorsDtype.F32, new long[] {}, scalar)
                .metadata("note", "x")
                .write(f);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertEquals(Map.of("format", "pt", "note", "x"), sf.metadata());
            assertEquals(List.of("a", "b.weight", "c", "s"), sf.names().stream().sorted().toList());
            assertEquals("BF16", sf.info("b.weight").dtype());
            assertArrayEquals(new long[] {2, 3, 4}, sf.info("b.weight").shape());
            assertArrayEquals(new long[] {}, sf.info("s").shape());
            assertEquals(0, sf.headerLength() % 8, "header padded to 8 bytes");
            assertArrayEquals(a, sf.readFloat32("a"));
            assertArrayEquals(b, sf.readFloat32("b.weight"));
            assertArrayEquals(c, sf.readFloat32("c"));
            assertArrayEquals(scalar, sf.readFloat32("s"));
            assertEquals(48, sf.rawBytes("b.weight").byteSize());
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void bf16RoundsToNearestEvenAndWidensExactly() throws IOException {
        float one = 1f;
        float ulp = 0x1p-7f; // bf16 spacing at 1.0
        float[] in = {
            one + ulp / 2, // tie, 1.0 has even mantissa -> 1.0
            one + 3 * ulp / 2, // tie between 1+ulp (odd) and 1+2ulp (even) -> 1+2ulp
            one + ulp / 2 + 0x1p-20f, // just above the tie -> 1+ulp
            -(one + ulp / 2 + 0x1p-20f),
            Float.MAX_VALUE, // rounds up to infinity
            Float.NaN,
            Float.MIN_VALUE
        };
        float[] expect = {one, one + 2 * ulp, one + ulp, -(one + ulp), Float.POSITIVE_INFINITY, Float.NaN, 0f};
        Path f = dir.resolve("r.safetensors");
        new SafetensorsWriter().add("x", SafetensorsDtype.BF16, new long[] {in.length}, in).write(f);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertArrayEquals(expect, sf.readFloat32("x"));
        }
        for (int bits = 0; bits < 0x10000; bits++) {
            float v = Bf16.toFloat((short) bits);
            if (!Float.isNaN(v)) {
                assertEquals((short) bits, Bf16.fromFloat(v), "bf16 widening then narrowing is the identity");
            }
        }
    }

    @Test
    void readsF64() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.5).putDouble(-0.25);
        Path f = HfTestFiles.raw(dir.resolve("d.safetensors"),
                "{\"x\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", d.array());
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertArrayEquals(new float[] {1.5f, -0.25f}, sf.readFloat32("x"));
            assertTrue(sf.metadata().isEmpty());
        }
    }

    @Test
    void streamingReadsUseCallerBuffersAndSmallChunks() throws IOException {
        int n = 10_000;
        float[] v = bf16Representable(random(n, 7));
        Path f = dir.resolve("big.safetensors");
        new SafetensorsWriter().add("w", SafetensorsDtype.BF16, new long[] {100, 100}, v).write(f);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            List<float[]> arrays = new ArrayList<>();
            float[] collected = new float[n];
            long[] expectedOffset = {0};
            sf.forEachChunk("w", 1000, (off, chunk, len) -> {
                assertEquals(expectedOffset[0], off);
                assertTrue(chunk.length <= 1000, "chunk array is bounded by the chunk size");
                arrays.add(chunk);
                System.arraycopy(chunk, 0, collected, (int) off, len);
                expectedOffset[0] += len;
            });
            assertEquals(10, arrays.size());
            for (float[] arr : arrays) {
                assertSame(arrays.get(0), arr, "one scratch array is reused");
            }
            assertArrayEquals(v, collected);

            FloatBuffer direct = ByteBuffer.allocateDirect(4 * (n + 3)).order(ByteOrder.nativeOrder()).asFloatBuffer();
            direct.position(3);
            sf.readFloat32("w", direct);
            assertEquals(n + 3, direct.position());
            for (int i = 0; i < n; i++) {
                assertEquals(v[i], direct.get(3 + i));
            }

            float[] into = new float[n + 5];
            sf.readFloat32("w", into, 5);
            assertEquals(v[n - 1], into[n + 4]);

            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(4L * n);
                sf.readFloat32("w", seg, 0);
                assertArrayEquals(v, seg.toArray(ValueLayout.JAVA_FLOAT));
            }
            assertThrows(IllegalArgumentException.class, () -> sf.readFloat32("w", new float[n - 1], 0));
        }
    }

    @Test
    void truncatedDataIsRefusedNamingTheTensor() throws IOException {
        Path f = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .add("first", SafetensorsDtype.F32, new long[] {4}, new float[4])
                .add("second", SafetensorsDtype.F32, new long[] {4}, new float[4])
                .write(f);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3);
        }
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains("'second'") && e.getMessage().contains("truncated"), e.getMessage());

        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(tiny));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void headerOverflowIsRefused() throws IOException {
        String h = "{}";
        Path huge = HfTestFiles.raw(dir.resolve("h1.safetensors"), 1L << 40, h, new byte[0]);
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(huge));
        assertTrue(e.getMessage().contains("header overflow"), e.getMessage());

        Path beyond = HfTestFiles.raw(dir.resolve("h2.safetensors"), 1000, h, new byte[10]);
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(beyond));
        assertTrue(e.getMessage().contains("header overflow"), e.getMessage());

        Path negative = HfTestFiles.raw(dir.resolve("h3.safetensors"), -1, h, new byte[0]);
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(negative));
        assertTrue(e.getMessage().contains("header overflow"), e.getMessage());
    }

    @Test
    void offsetsOutOfRangeOverlappingOrWrongSizeAreRefused() throws IOException {
        Path out = HfTestFiles.raw(dir.resolve("o1.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}", new byte[8]);
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(out));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("outside the data area"), e.getMessage());

        Path neg = HfTestFiles.raw(dir.resolve("o2.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", new byte[8]);
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(neg));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("data_offsets"), e.getMessage());

        Path size = HfTestFiles.raw(dir.resolve("o3.safetensors"),
                "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(size));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("needs 6"), e.getMessage());

        Path overlap = HfTestFiles.raw(dir.resolve("o4.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(overlap));
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("overlaps"), e.getMessage());

        Path notJson = HfTestFiles.raw(dir.resolve("o5.safetensors"), "{\"a\":", new byte[0]);
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(notJson));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void unknownDtypeIsRefusedNamingTensorAndDtype() throws IOException {
        Path f = HfTestFiles.raw(dir.resolve("u.safetensors"),
                "{\"layer.w\":{\"dtype\":\"FP32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]);
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains("'layer.w'") && e.getMessage().contains("unknown dtype 'FP32'"),
                e.getMessage());
    }

    @Test
    void integerTensorsOpenButCannotBeReadAsFloat() throws IOException {
        Path f = HfTestFiles.raw(dir.resolve("i.safetensors"),
                "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            HfFormatException e = assertThrows(HfFormatException.class, () -> sf.readFloat32("ids"));
            assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I64"), e.getMessage());
            e = assertThrows(HfFormatException.class, () -> sf.readFloat32("nope"));
            assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        }
    }

    @Test
    void pickleCheckpointsAndLfsPointersAreRefused() throws IOException {
        Path bin = dir.resolve("pytorch_model.bin");
        Files.write(bin, new byte[] {(byte) 0x80, 2, 'c'});
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(bin));
        assertTrue(e.getMessage().contains("pickle checkpoints (.bin) are not supported")
                && e.getMessage().contains("convert to safetensors"), e.getMessage());
        assertThrows(HfFormatException.class, () -> SafetensorsFile.refuseNonSafetensors(dir.resolve("x.pth")));

        Path zip = dir.resolve("disguised.safetensors");
        Files.write(zip, new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0});
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(zip));
        assertTrue(e.getMessage().contains("pickle checkpoints"), e.getMessage());

        Path pointer = SharedModels.smolVlmDir().resolve("model.safetensors.lfs-pointer");
        e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(pointer));
        assertTrue(e.getMessage().contains("Git LFS pointer"), e.getMessage());
    }

    @Test
    void closedFileCannotBeRead() throws IOException {
        Path f = dir.resolve("c.safetensors");
        new SafetensorsWriter().add("a", SafetensorsDtype.F32, new long[] {1}, new float[] {1}).write(f);
        SafetensorsFile sf = SafetensorsFile.open(f);
        sf.close();
        assertThrows(IllegalStateException.class, () -> sf.readFloat32("a"));
        sf.close();
    }

    @Test
    void writerRejectsBadInput() {
        SafetensorsWriter w = new SafetensorsWriter();
        assertThrows(IllegalArgumentException.class,
                () -> w.add("a", SafetensorsDtype.F32, new long[] {2, 2}, new float[3]));
        assertThrows(IllegalArgumentException.class,
                () -> w.add("a", SafetensorsDtype.I32, new long[] {1}, new float[1]));
        w.add("a", SafetensorsDtype.F32, new long[] {1}, new float[1]);
        assertThrows(IllegalArgumentException.class,
                () -> w.add("a", SafetensorsDtype.F32, new long[] {1}, new float[1]));
        assertNotEquals(0, SafetensorsDtype.BF16.byteSize());
    }

    /** NaN and ±Infinity are refused while the values are read, naming the tensor and the first bad element. */
    @Test
    void nonFiniteValuesAreRefusedWhileReading() throws IOException {
        float[] big = random(100_000, 4); // more than one conversion block
        big[70_001] = Float.POSITIVE_INFINITY;
        big[90_000] = Float.NaN;
        float[] halves = f16Representable(random(12, 5));
        halves[7] = Float.NEGATIVE_INFINITY;
        float[] brains = bf16Representable(random(6, 6));
        brains[0] = Float.NaN;
        Path f = dir.resolve("nan.safetensors");
        new SafetensorsWriter()
                .add("big", SafetensorsDtype.F32, new long[] {1000, 100}, big)
                .add("half", SafetensorsDtype.F16, new long[] {3, 4}, halves)
                .add("brain", SafetensorsDtype.BF16, new long[] {6}, brains)
                .add("fine", SafetensorsDtype.BF16, new long[] {2}, new float[] {1, 2})
                .write(f);
        try (SafetensorsFile sf = SafetensorsFile.openRejectingNonFinite(f)) {
            HfFormatException e = assertThrows(HfFormatException.class, () -> sf.readFloat32("big"));
            assertTrue(e.getMessage().contains(f + ": tensor 'big' (F32 [1000, 100]) holds a non-finite value, Infinity, "
                    + "at element 70001 [700, 1]"), e.getMessage());
            e = assertThrows(HfFormatException.class, () -> sf.forEachChunk("big", 1000, (o, c, n) -> { }));
            assertTrue(e.getMessage().contains("at element 70001"), e.getMessage());
            e = assertThrows(HfFormatException.class, () -> sf.readFloat32("half"));
            assertTrue(e.getMessage().contains("'half'") && e.getMessage().contains("-Infinity, at element 7 [1, 3]"), e.getMessage());
            e = assertThrows(HfFormatException.class, () -> sf.readFloat32("brain", FloatBuffer.allocate(6)));
            assertTrue(e.getMessage().contains("'brain'") && e.getMessage().contains("NaN, at element 0:"), e.getMessage());
            assertArrayEquals(new float[] {1, 2}, sf.readFloat32("fine"));
        }
        // a plain open reads them as they are; requireFinite checks on demand
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertTrue(Float.isNaN(sf.readFloat32("big")[90_000]));
            HfFormatException e = assertThrows(HfFormatException.class, () -> sf.requireFinite("big"));
            assertTrue(e.getMessage().contains("at element 70001"), e.getMessage());
            sf.requireFinite("fine");
        }
    }

    @Test
    void f64ValuesTooLargeForFloat32AreRefused() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.5).putDouble(1e300);
        Path f = HfTestFiles.raw(dir.resolve("f64.safetensors"),
                "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", data.array());
        try (SafetensorsFile sf = SafetensorsFile.openRejectingNonFinite(f)) {
            HfFormatException e = assertThrows(HfFormatException.class, () -> sf.readFloat32("d"));
            assertTrue(e.getMessage().contains("Infinity as float32, at element 1"), e.getMessage());
        }
    }

    /** requireFinite does not read again what a checking read has already covered. */
    @Test
    void requireFiniteSkipsTensorsAlreadyCheckedWhileReading() throws IOException {
        Path f = dir.resolve("ok.safetensors");
        new SafetensorsWriter().add("w", SafetensorsDtype.F32, new long[] {4}, new float[] {1, 2, 3, 4}).write(f);
        try (SafetensorsFile sf = SafetensorsFile.openRejectingNonFinite(f)) {
            sf.readFloat32("w");
            // poke a NaN into the file behind the mapping's back: a second check would see it
            long at = 8 + sf.headerLength() + sf.info("w").begin();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, Float.NaN), at);
            }
            sf.requireFinite("w");
            assertThrows(HfFormatException.class, () -> sf.readFloat32("w"));
        }
    }

    @Test
    void headerJsonErrorsNameLineAndColumn() throws IOException {
        Path f = HfTestFiles.raw(dir.resolve("j.safetensors"), "{\"a\": {\"dtype\": \"F32\",, }}", new byte[0]);
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().startsWith(f + ": header is not valid JSON at line 1 column 23: "), e.getMessage());
        assertTrue(!e.getMessage().contains("Source"), e.getMessage());
    }
}
