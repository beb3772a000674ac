package dev.smoldpo.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * Random access to the preference pairs of one dataset file, read through DuckDB.
 *
 * <p>Formats (detected from the extension, then the parquet schema):
 * <ul>
 * <li>{@link Format#RLHF_V_PARQUET}: openbmb/RLHF-V-Dataset: {@code text} holds a JSON object with
 *     {@code question} (or {@code prompt}), {@code chosen}, {@code rejected}; {@code image} is a
 *     struct {@code {bytes, path}}; {@code idx} is the id.
 * <li>{@link Format#GENERIC_PARQUET}: columns {@code prompt} or {@code question}, {@code chosen},
 *     {@code rejected}, and optionally {@code image} (BLOB bytes, struct {@code {bytes, path}} or a
 *     path string) and/or {@code image_path}, optionally {@code id}/{@code idx}.
 * <li>{@link Format#JSONL} ({@code .jsonl}, {@code .ndjson}, {@code .json}): one object per line
 *     with the same keys; the image as {@code image} or {@code image_path} (a path) or
 *     {@code image_base64} (optionally a {@code data:} URI).
 * </ul>
 * Relative image paths are resolved against the dataset file's folder.
 *
 * <p>Memory: at open, only the text and a row number per kept pair go into an in-memory DuckDB
 * table (native memory, not the Java heap); image bytes stay in the file. A batch reads its images
 * with one query, {@code read_parquet(..., file_row_number=true)} filtered on the batch's row
 * numbers: DuckDB pushes that filter into the scan, so a batch costs tens of milliseconds whatever
 * the file size (measured faster than copying the images into a DuckDB cache file, which also costs
 * a full copy at first open). JSONL base64 images are re-read from their line on demand.
 *
 * <p>Rows that cannot be a training pair are skipped at open and counted in {@link #skipped()}
 * (reasons in {@link SkipReport}). A row without an image is a text-only pair only when the dataset
 * has no image column (or, for JSONL, no line with an image key); otherwise it is
 * {@link SkipReport#MISSING_IMAGE}. Undecodable bytes are left to the trainer ({@link ImageCheck}).
 *
 * <p>Thread-safe (calls are serialised on the one DuckDB connection).
 */
public final class PreferenceDataset implements AutoCloseable {

    public enum Format { RLHF_V_PARQUET, GENERIC_PARQUET, JSONL }

    private static final byte KIND_NONE = 0, KIND_PARQUET = 1, KIND_FILE = 2, KIND_BASE64 = 3;
    private static final Pattern STRUCT_BYTES = Pattern.compile("(?i)[(,]\\s*\"?bytes\"?\\s+BLOB\\b");
    private static final Pattern STRUCT_PATH = Pattern.compile("(?i)[(,]\\s*\"?path\"?\\s+VARCHAR\\b");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final Format format;
    private final Connection conn;
    private final String bytesExpr;     // parquet expression of the image bytes, null if none
    private boolean hasImages;
    private long[] srcOf;               // index -> source row
    private byte[] kindOf;              // index -> KIND_*
    private SkipReport skipped;
    private boolean closed;

    private PreferenceDataset(Path file, Format format, Connection conn, String bytesExpr, boolean hasImages) {
        this.file = file;
        this.format = format;
        this.conn = conn;
        this.bytesExpr = bytesExpr;
        this.hasImages = hasImages;
    }

    /**
     * Opens a dataset file, or a folder holding exactly one {@code .parquet}/{@code .jsonl} file
     * (e.g. a downloaded hub snapshot).
     *
     * @throws DatasetException when the file does not exist, cannot be read, matches no known
     *                          schema (the message lists the columns found), or has no usable pair
     */
    public static PreferenceDataset open(Path path) {
        Path file = resolveFile(path.toAbsolutePath().normalize());
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        Connection conn;
        try {
            Class.forName("org.duckdb.DuckDBDriver");
            conn = DriverManager.getConnection("jdbc:duckdb:");
        } catch (ClassNotFoundException | SQLException e) {
            throw new DatasetException(file, "cannot start DuckDB: " + e.getMessage(), e);
        }
        try {
            PreferenceDataset ds;
            if (name.endsWith(".parquet")) {
                ds = openParquet(file, conn);
            } else if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) {
                ds = openJsonl(file, conn);
            } else {
                throw new DatasetException(file, "unknown dataset format (expected .parquet, .jsonl, .ndjson or .json)");
            }
            if (ds.size() == 0) {
                throw new DatasetException(file, "no usable preference pair (" + ds.skipped.summary() + ")");
            }
            return ds;
        } catch (RuntimeException e) {
            closeQuietly(conn);
            throw e;
        } catch (SQLException | IOException e) {
            closeQuietly(conn);
            throw new DatasetException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    private static Path resolveFile(Path path) {
        if (!Files.exists(path)) throw new DatasetException(path, "no such file or folder");
        if (!Files.isDirectory(path)) {
            if (!Files.isReadable(path)) throw new DatasetException(path, "not readable");
            return path;
        }
        List<Path> found;
        try (Stream<Path> s = Files.walk(path, 4)) {
            found = s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                return n.endsWith(".parquet") || n.endsWith(".jsonl") || n.endsWith(".ndjson");
            }).filter(p -> !path.relativize(p).toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new DatasetException(path, "cannot list folder: " + e.getMessage(), e);
        }
        if (found.size() == 1) return found.getFirst();
        throw new DatasetException(path, found.isEmpty() ? "folder holds no .parquet or .jsonl file"
                : "folder holds several dataset files, name one: " + found.stream().map(path::relativize).toList());
    }

    // ------------------------------------------------------------------ parquet

    private static PreferenceDataset openParquet(Path file, Connection conn) throws SQLException {
        String src = "read_parquet(" + quote(file.toString()) + ", file_row_number=true)";
        Map<String, String> cols = new LinkedHashMap<>();   // lower-case name -> type
        Map<String, String> names = new LinkedHashMap<>();  // lower-case name -> quoted identifier
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("DESCRIBE SELECT * FROM read_parquet(" + quote(file.toString()) + ")")) {
            while (rs.next()) {
                String n = rs.getString(1);
                cols.put(n.toLowerCase(Locale.ROOT), rs.getString(2));
                names.put(n.toLowerCase(Locale.ROOT), ident(n));
            }
        } catch (SQLException e) {
            throw new DatasetException(file, "not a readable parquet file: " + e.getMessage(), e);
        }
        String columnList = "columns found: " + cols.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList();

        Format format;
        String jsonOk, textNull, q, c, r;
        boolean generic = cols.containsKey("chosen") && cols.containsKey("rejected");
        if (generic) {
            String pcol = cols.containsKey("prompt") ? "prompt" : cols.containsKey("question") ? "question" : null;
            if (pcol == null) throw new DatasetException(file, "has chosen and rejected but no prompt or question column; " + columnList);
            for (String k : new String[] {pcol, "chosen", "rejected"}) {
                if (!cols.get(k).equals("VARCHAR")) {
                    throw new DatasetException(file, "column " + k + " is " + cols.get(k) + ", expected a string; " + columnList);
                }
            }
            format = Format.GENERIC_PARQUET;
            jsonOk = "true";
            textNull = "false";
            q = names.get(pcol);
            c = names.get("chosen");
            r = names.get("rejected");
        } else if ("VARCHAR".equals(cols.get("text"))) {
            format = Format.RLHF_V_PARQUET;
            String t = names.get("text");
            String valid = "json_valid(" + t + ")";
            jsonOk = "coalesce(CASE WHEN " + valid + " THEN json_type(" + t + ") = 'OBJECT' END, false)";
            textNull = t + " IS NULL";
            q = "CASE WHEN " + valid + " THEN coalesce(json_extract_string(" + t + ", '$.question'), json_extract_string("
                    + t + ", '$.prompt')) END";
            c = "CASE WHEN " + valid + " THEN json_extract_string(" + t + ", '$.chosen') END";
            r = "CASE WHEN " + valid + " THEN json_extract_string(" + t + ", '$.rejected') END";
        } else {
            throw new DatasetException(file, "matches no known schema (want RLHF-V: text JSON {question, chosen, rejected}"
                    + " + image {bytes, path}; or prompt|question, chosen, rejected [+ image|image_path]); " + columnList);
        }

        String lenExpr = "NULL", bytesExpr = null, pathExpr = "NULL", path2Expr = "NULL";
        String imageType = cols.get("image");
        if (imageType != null) {
            String img = names.get("image");
            if (imageType.startsWith("STRUCT") && STRUCT_BYTES.matcher(imageType).find()) {
                bytesExpr = img + ".bytes";
                lenExpr = "octet_length(" + bytesExpr + ")";
                if (STRUCT_PATH.matcher(imageType).find()) pathExpr = img + ".path";
            } else if (imageType.equals("BLOB")) {
                bytesExpr = img;
                lenExpr = "octet_length(" + img + ")";
            } else if (imageType.equals("VARCHAR")) {
                pathExpr = img;
            } else {
                throw new DatasetException(file, "unsupported image column type " + imageType
                        + " (want BLOB, STRUCT(bytes BLOB, path VARCHAR) or a path string); " + columnList);
            }
        }
        if ("VARCHAR".equals(cols.get("image_path"))) path2Expr = names.get("image_path");
        boolean hasImages = imageType != null || !path2Expr.equals("NULL");
        String idExpr = cols.containsKey("id") ? "CAST(" + names.get("id") + " AS VARCHAR)"
                : cols.containsKey("idx") ? "CAST(" + names.get("idx") + " AS VARCHAR)" : "NULL";

        PreferenceDataset ds = new PreferenceDataset(file, format, conn, bytesExpr, hasImages);
        ds.createStaging();
        Path base = file.getParent();
        SkipReport.Builder skips = SkipReport.builder();
        String sql = "SELECT file_row_number, " + idExpr + ", " + textNull + ", " + jsonOk + ", " + q + ", " + c + ", " + r
                + ", " + lenExpr + ", " + pathExpr + ", " + path2Expr + " FROM " + src;
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql);
             DuckDBAppender app = ((DuckDBConnection) conn).createAppender(DuckDBConnection.DEFAULT_SCHEMA, "staged")) {
            while (rs.next()) {
                long row = rs.getLong(1);
                String id = rs.getString(2);
                String reason = rs.getBoolean(3) ? SkipReport.MISSING_TEXT
                        : !rs.getBoolean(4) ? SkipReport.BAD_JSON
                        : textReason(rs.getString(5), rs.getString(6), rs.getString(7));
                if (reason != null) {
                    skips.add(reason, row);
                    continue;
                }
                long len = rs.getLong(8);
                boolean hasBytes = !rs.wasNull() && len > 0;
                byte kind = KIND_NONE;
                String imgPath = null;
                if (hasBytes) {
                    kind = KIND_PARQUET;
                } else {
                    for (String p : new String[] {rs.getString(9), rs.getString(10)}) {
                        Path resolved = existingImage(base, p);
                        if (resolved != null) {
                            kind = KIND_FILE;
                            imgPath = resolved.toString();
                            break;
                        }
                    }
                }
                append(app, row, id, rs.getString(5), rs.getString(6), rs.getString(7), kind, imgPath, 0, 0);
            }
        }
        ds.finishOpen(skips);
        return ds;
    }

    // ------------------------------------------------------------------ JSONL

    private static PreferenceDataset openJsonl(Path file, Connection conn) throws SQLException, IOException {
        PreferenceDataset ds = new PreferenceDataset(file, Format.JSONL, conn, null, false);
        ds.createStaging();
        Path base = file.getParent();
        SkipReport.Builder skips = SkipReport.builder();
        boolean anyImageKey = false;
        try (InputStream in = Files.newInputStream(file);
             DuckDBAppender app = ((DuckDBConnection) conn).createAppender(DuckDBConnection.DEFAULT_SCHEMA, "staged")) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            int bufLen = 0, bufPos = 0;
            long lineStart = 0, consumed = 0, row = 0;
            boolean eof = false;
            while (!eof) {
                // gather one line (without its '\n') into `line`
                boolean newline = false;
                while (!newline) {
                    if (bufPos == bufLen) {
                        bufLen = in.read(buf);
                        bufPos = 0;
                        if (bufLen < 0) {
                            bufLen = 0;
                            eof = true;
                            break;
                        }
                    }
                    int nl = bufPos;
                    while (nl < bufLen && buf[nl] != '\n') nl++;
                    line.write(buf, bufPos, nl - bufPos);
                    consumed += nl - bufPos;
                    if (nl < bufLen) {
                        newline = true;
                        consumed++;
                        nl++;
                    }
                    bufPos = nl;
                }
                byte[] bytes = line.toByteArray();
                line.reset();
                long start = lineStart;
                lineStart = consumed;
                long thisRow = row++;
                if (eof && bytes.length == 0) break;
                if (isBlank(bytes)) continue;
                JsonNode obj;
                try {
                    obj = JSON.readTree(bytes);
                } catch (IOException e) {
                    obj = null;
                }
                if (obj == null || !obj.isObject()) {
                    skips.add(SkipReport.BAD_JSON, thisRow);
                    continue;
                }
                if (has(obj, "image") || has(obj, "image_path") || has(obj, "image_base64")) anyImageKey = true;
                String q = text(obj.get("prompt"));
                if (q == null) q = text(obj.get("question"));
                String c = text(obj.get("chosen")), r = text(obj.get("rejected"));
                String reason = textReason(q, c, r);
                if (reason != null) {
                    skips.add(reason, thisRow);
                    continue;
                }
                byte kind = KIND_NONE;
                String imgPath = null;
                if (has(obj, "image_base64") && obj.get("image_base64").isTextual()
                        && !obj.get("image_base64").asText().isBlank()) {
                    kind = KIND_BASE64;
                } else {
                    for (String k : new String[] {"image", "image_path"}) {
                        Path resolved = obj.has(k) && obj.get(k).isTextual() ? existingImage(base, obj.get(k).asText()) : null;
                        if (resolved != null) {
                            kind = KIND_FILE;
                            imgPath = resolved.toString();
                            break;
                        }
                    }
                }
                String id = obj.has("id") && !obj.get("id").isNull() ? obj.get("id").asText()
                        : obj.has("idx") && !obj.get("idx").isNull() ? obj.get("idx").asText() : null;
                append(app, thisRow, id, q, c, r, kind, imgPath, start, bytes.length);
            }
        }
        ds.hasImages = anyImageKey;
        ds.finishOpen(skips);
        return ds;
    }

    private static boolean has(JsonNode obj, String key) {
        return obj.has(key) && !obj.get(key).isNull();
    }

    private static String text(JsonNode n) {
        if (n == null || n.isNull()) return null;
        return n.isValueNode() ? n.asText() : n.toString();
    }

    private static boolean isBlank(byte[] b) {
        for (byte x : b) if (x != ' ' && x != '\t' && x != '\r') return false;
        return true;
    }

    // ------------------------------------------------------------------ shared open steps

    /** The skip reason of a pair's text, or null when usable. */
    static String textReason(String q, String c, String r) {
        if (q == null) return SkipReport.MISSING_QUESTION;
        if (c == null) return SkipReport.MISSING_CHOSEN;
        if (r == null) return SkipReport.MISSING_REJECTED;
        if (q.isBlank()) return SkipReport.EMPTY_QUESTION;
        if (c.isBlank()) return SkipReport.EMPTY_CHOSEN;
        if (r.isBlank()) return SkipReport.EMPTY_REJECTED;
        if (c.strip().equals(r.strip())) return SkipReport.IDENTICAL_ANSWERS;
        return null;
    }

    private static Path existingImage(Path base, String p) {
        if (p == null || p.isBlank()) return null;
        try {
            Path path = Path.of(p);
            Path resolved = path.isAbsolute() ? path : base.resolve(path);
            return Files.isRegularFile(resolved) ? resolved.normalize() : null;
        } catch (RuntimeException e) {   // invalid path string
            return null;
        }
    }

    private void createStaging() throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.execute("CREATE TABLE staged(src BIGINT, id VARCHAR, question VARCHAR, chosen VARCHAR, rejected VARCHAR,"
                    + " kind TINYINT, img_path VARCHAR, off BIGINT, len INTEGER)");
        }
    }

    private static void append(DuckDBAppender app, long row, String id, String q, String c, String r, byte kind,
                               String imgPath, long off, int len) throws SQLException {
        app.beginRow();
        app.append(row);
        app.append(id == null ? Long.toString(row) : id);
        app.append(q);
        app.append(c);
        app.append(r);
        app.append(kind);
        if (imgPath == null) app.appendNull(); else app.append(imgPath);
        app.append(off);
        app.append(len);
        app.endRow();
    }

    private void finishOpen(SkipReport.Builder skips) throws SQLException {
        try (Statement st = conn.createStatement()) {
            String keep = hasImages ? "kind <> " + KIND_NONE : "true";
            if (hasImages) {
                List<Long> missing = new ArrayList<>();
                long n = 0;
                try (ResultSet rs = st.executeQuery("SELECT src FROM staged WHERE kind = " + KIND_NONE + " ORDER BY src")) {
                    while (rs.next()) {
                        if (missing.size() < SkipReport.MAX_EXAMPLES) missing.add(rs.getLong(1));
                        n++;
                    }
                }
                if (n > 0) skips.add(SkipReport.MISSING_IMAGE, n, missing);
            }
            st.execute("CREATE TABLE pairs AS SELECT (row_number() OVER (ORDER BY src) - 1)::INTEGER AS i, * FROM staged"
                    + " WHERE " + keep + " ORDER BY src");
            st.execute("DROP TABLE staged");
            int n;
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM pairs")) {
                rs.next();
                n = rs.getInt(1);
            }
            srcOf = new long[n];
            kindOf = new byte[n];
            try (ResultSet rs = st.executeQuery("SELECT i, src, kind FROM pairs")) {
                while (rs.next()) {
                    int i = rs.getInt(1);
                    srcOf[i] = rs.getLong(2);
                    kindOf[i] = rs.getByte(3);
                }
            }
        }
        skipped = skips.build();
    }

    // ------------------------------------------------------------------ access

    public Path file() {
        return file;
    }

    public Format format() {
        return format;
    }

    /** Whether the dataset has an image column (then every pair has an image). */
    public boolean hasImages() {
        return hasImages;
    }

    /** Number of usable pairs. */
    public int size() {
        return srcOf.length;
    }

    /** The source row (0-based parquet row or JSONL line) of pair {@code i}. */
    public long sourceRow(int i) {
        return srcOf[i];
    }

    /** Rows skipped at open, by reason. */
    public SkipReport skipped() {
        return skipped;
    }

    public PreferenceExample get(int i) {
        return get(new int[] {i}).getFirst();
    }

    /**
     * The pairs at {@code indices}, in that order (repeats allowed), with one query. A pair whose
     * image file vanished since open gets an empty {@code image} array (which {@link ImageCheck}
     * reports as missing).
     */
    public synchronized List<PreferenceExample> get(int[] indices) {
        if (closed) throw new IllegalStateException("dataset " + file + " is closed");
        if (indices.length == 0) return List.of();
        StringBuilder values = new StringBuilder();
        TreeSet<Long> parquetRows = new TreeSet<>();
        for (int k = 0; k < indices.length; k++) {
            int i = indices[k];
            if (i < 0 || i >= srcOf.length) throw new IndexOutOfBoundsException("index " + i + " of " + srcOf.length + " pairs");
            values.append(k == 0 ? "" : ", ").append('(').append(k).append(", ").append(i).append(')');
            if (kindOf[i] == KIND_PARQUET) parquetRows.add(srcOf[i]);
        }
        String images = "SELECT NULL::BIGINT AS src, NULL::BLOB AS b WHERE false";
        if (!parquetRows.isEmpty()) {
            StringBuilder in = new StringBuilder();
            for (long r : parquetRows) in.append(in.isEmpty() ? "" : ", ").append(r);
            images = "SELECT file_row_number AS src, " + bytesExpr + " AS b FROM read_parquet(" + quote(file.toString())
                    + ", file_row_number=true) WHERE file_row_number BETWEEN " + parquetRows.first() + " AND "
                    + parquetRows.last() + " AND file_row_number IN (" + in + ")";
        }
        String sql = "SELECT p.src, p.id, p.question, p.chosen, p.rejected, p.kind, p.img_path, p.off, p.len, img.b"
                + " FROM (VALUES " + values + ") w(ord, i) JOIN pairs p ON p.i = w.i"
                + " LEFT JOIN (" + images + ") img ON img.src = p.src ORDER BY w.ord";
        List<PreferenceExample> out = new ArrayList<>(indices.length);
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                long row = rs.getLong(1);
                byte kind = rs.getByte(6);
                byte[] image = switch (kind) {
                    case KIND_PARQUET -> {
                        byte[] b = rs.getBytes(10);
                        yield b == null ? new byte[0] : b;
                    }
                    case KIND_FILE -> readImageFile(Path.of(rs.getString(7)));
                    case KIND_BASE64 -> readBase64(rs.getLong(8), rs.getInt(9), row);
                    default -> null;
                };
                out.add(new PreferenceExample(rs.getString(2), image, rs.getString(3), rs.getString(4), rs.getString(5), row));
            }
        } catch (SQLException e) {
            throw new DatasetException(file, "cannot read rows: " + e.getMessage(), e);
        }
        if (out.size() != indices.length) {
            throw new DatasetException(file, "read " + out.size() + " rows for " + indices.length + " indices");
        }
        return out;
    }

    private static byte[] readImageFile(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            return new byte[0];
        }
    }

    private byte[] readBase64(long off, int len, long row) {
        ByteBuffer buf = ByteBuffer.allocate(len);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, off + buf.position()) < 0) break;
            }
            String b64 = JSON.readTree(buf.array()).path("image_base64").asText("");
            int comma = b64.startsWith("data:") ? b64.indexOf(',') : -1;
            if (comma >= 0) b64 = b64.substring(comma + 1);
            return Base64.getMimeDecoder().decode(b64.strip());
        } catch (IOException | IllegalArgumentException e) {
            return new byte[0];   // file changed or invalid base64: reported by ImageCheck as missing
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        closeQuietly(conn);
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // nothing to do
        }
    }

    static String quote(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    private static String ident(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }
}
