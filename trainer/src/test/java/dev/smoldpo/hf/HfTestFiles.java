package dev.smoldpo.hf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helpers: crafting raw safetensors files. */
final class HfTestFiles {
    private HfTestFiles() {}

    /** Writes {@code headerLength (LE u64) + header + data}, with an explicit header length. */
    static Path raw(Path file, long declaredHeaderLength, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredHeaderLength).put(h).put(data);
        Files.write(file, b.array());
        return file;
    }

    /** Writes a well-formed header length followed by {@code header} and {@code data}. */
    static Path raw(Path file, String header, byte[] data) throws IOException {
        return raw(file, header.getBytes(StandardCharsets.UTF_8).length, header, data);
    }
}
