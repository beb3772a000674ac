package dev.smoldpo.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The lines of a JSONL file with their byte offsets, so that a line can be read again later (its
 * base64 images are not kept in memory between open and use).
 */
final class JsonlLines {
    private JsonlLines() {}

    /** Receives each line (without its newline): its 0-based number, byte offset and bytes. */
    @FunctionalInterface
    interface LineConsumer {
        void accept(long number, long offset, byte[] line) throws Exception;
    }

    static void forEach(Path file, LineConsumer consumer) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            long offset = 0;
            long lineStart = 0;
            long number = 0;
            int n;
            while ((n = in.read(buf)) > 0) {
                int from = 0;
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        line.write(buf, from, i - from);
                        consumer.accept(number++, lineStart, line.toByteArray());
                        line.reset();
                        from = i + 1;
                        lineStart = offset + i + 1;
                    }
                }
                line.write(buf, from, n - from);
                offset += n;
            }
            if (line.size() > 0) {
                consumer.accept(number, lineStart, line.toByteArray());
            }
        }
    }

    /** The {@code length} bytes at {@code offset}. */
    static byte[] read(Path file, long offset, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    break;
                }
            }
        }
        return buf.array();
    }

    static boolean isBlank(byte[] b) {
        for (byte x : b) {
            if (x != ' ' && x != '\t' && x != '\r') {
                return false;
            }
        }
        return true;
    }
}
