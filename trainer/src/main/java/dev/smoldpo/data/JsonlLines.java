package dev.smoldpo.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
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
 * base64 images are not kept in memory between open and use). A {@code .json} file holding one JSON
 * array of row objects (Python's {@code json.dump(rows)}, which HF's {@code load_dataset("json")} reads
 * too) is read the same way: each element is a "line", numbered by its place in the array.
 */
final class JsonlLines {
    private JsonlLines() {}

    /** Receives each line (without its newline): its 0-based number, byte offset and bytes. */
    @FunctionalInterface
    interface LineConsumer {
        void accept(long number, long offset, byte[] line) throws Exception;
    }

    static void forEach(Path file, LineConsumer consumer) throws Exception {
        if (startsWithArray(file)) {
            forEachElement(file, consumer);
            return;
        }
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

    /** Whether the first non-blank byte (after a UTF-8 byte order mark) opens a JSON array. */
    private static boolean startsWithArray(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            int b;
            int at = 0;
            while ((b = in.read()) >= 0) {
                boolean bom = at < 3 && (b == 0xEF || b == 0xBB || b == 0xBF);
                at++;
                if (!bom && b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                    return b == '[';
                }
            }
            return false;
        }
    }

    /**
     * Each element of the top-level array, located by a streaming parse (which skips over strings
     * without building them, so a file of large base64 images is not held in memory) and read back
     * from the file by its byte range.
     */
    private static void forEachElement(Path file, LineConsumer consumer) throws Exception {
        try (InputStream in = Files.newInputStream(file);
             JsonParser p = PreferenceDataset.JSON.getFactory().createParser(in);
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new DatasetException(file, "not a JSON array");
            }
            long number = 0;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t == null) {
                    throw new DatasetException(file, "the JSON array ends before its closing ] (a truncated file?)");
                }
                long start = p.currentTokenLocation().getByteOffset();
                p.skipChildren();
                if (t == JsonToken.VALUE_STRING) {
                    p.finishToken();   // the end of a string is only known once it is read
                }
                long end = p.currentLocation().getByteOffset();
                consumer.accept(number++, start, read(ch, start, Math.toIntExact(end - start)));
            }
        } catch (JsonProcessingException e) {
            throw new DatasetException(file, "not valid JSON (a .json file is read as JSON Lines, or as one array of row "
                    + "objects): " + e.getOriginalMessage() + " at byte " + e.getLocation().getByteOffset(), e);
        }
    }

    /** The {@code length} bytes at {@code offset}. */
    static byte[] read(Path file, long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(ch, offset, length);
        }
    }

    private static byte[] read(FileChannel ch, long offset, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            if (ch.read(buf, offset + buf.position()) < 0) {
                break;
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
