package dev.smoldpo.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.data.text.ChatMessage;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * Random access to the preference pairs of one dataset file, read through DuckDB.
 *
 * <p>Formats: parquet in RLHF-V's schema or in TRL's standard or conversational preference formats
 * ({@link ParquetSchema}), and JSONL ({@code .jsonl}, {@code .ndjson}, {@code .json}) with the same keys
 * ({@link DatasetScan}). Each row becomes chat messages ({@link PairText}) and the images its prompt's
 * image parts stand for, in order ({@code images}, or one {@code image}).
 *
 * <p>Memory: at open, only the messages, a row number and where each image is go into an in-memory
 * DuckDB table (native memory, not the Java heap); image bytes stay in the file. A batch reads its
 * images with one query, {@code read_parquet(..., file_row_number=true)} filtered on the batch's row
 * numbers (DuckDB pushes the filter into the scan, so a batch costs tens of milliseconds whatever the
 * file size). JSONL base64 images are re-read from their line on demand.
 *
 * <p>Rows that cannot be a training pair are skipped at open and counted in {@link #skipped()}
 * (reasons in {@link SkipReport}). A row without images is a text-only pair only when the dataset has
 * no image column (or, for JSONL, no line with an image key); otherwise it is {@link
 * SkipReport#MISSING_IMAGE}. Undecodable bytes are left to the trainer ({@link ImageCheck}).
 *
 * <p>Thread-safe (calls are serialised on the one DuckDB connection).
 */
public final class PreferenceDataset implements AutoCloseable {

    public enum Format { RLHF_V_PARQUET, GENERIC_PARQUET, CONVERSATIONAL_PARQUET, JSONL }

    static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;            // as given: the file, or the folder of its shards
    private final DatasetFiles files;
    private final Connection conn;
    private Format format;
    private ParquetSchema schema;       // parquet only
    private boolean hasImages;
    private long[] srcOf;               // index -> source row
    private long[] shardStarts;         // shard -> its first source row
    private SkipReport skipped;
    private boolean closed;

    private PreferenceDataset(DatasetFiles files, Connection conn) {
        this.file = files.path();
        this.files = files;
        this.conn = conn;
    }

    /**
     * Opens a dataset file, or a folder (e.g. a downloaded hub snapshot) holding one split's file or
     * parquet shards, or several splits one of which is train ({@link DatasetFiles}).
     *
     * @throws DatasetException when the file does not exist, cannot be read, matches no known
     *                          schema (the message lists the columns or keys found), or has no usable pair
     */
    public static PreferenceDataset open(Path path) {
        DatasetFiles files = DatasetFiles.resolve(path.toAbsolutePath().normalize());
        Path file = files.path();
        Connection conn;
        try {
            Class.forName("org.duckdb.DuckDBDriver");
            conn = DriverManager.getConnection("jdbc:duckdb:");
        } catch (ClassNotFoundException | SQLException e) {
            throw new DatasetException(file, "cannot start DuckDB: " + e.getMessage(), e);
        }
        PreferenceDataset ds = new PreferenceDataset(files, conn);
        try {
            ds.load();
            if (ds.size() == 0) {
                throw new DatasetException(file, "no usable preference pair (" + ds.skipped.summary() + ")");
            }
            return ds;
        } catch (RuntimeException e) {
            ds.close();
            throw e;
        } catch (Exception e) {
            ds.close();
            throw new DatasetException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    private void load() throws Exception {
        try (Statement st = conn.createStatement()) {
            st.execute("CREATE TABLE staged(src BIGINT, id VARCHAR, prompt VARCHAR, chosen VARCHAR, rejected VARCHAR,"
                    + " refs VARCHAR, off BIGINT, len INTEGER)");
        }
        DatasetScan.Result result;
        try (DuckDBAppender app = ((DuckDBConnection) conn).createAppender(DuckDBConnection.DEFAULT_SCHEMA, "staged")) {
            DatasetScan.RowSink sink = (row, id, text, refs, off, len) -> append(app, row, id, text, refs, off, len);
            String name = files.first().getFileName().toString().toLowerCase(java.util.Locale.ROOT);
            if (name.endsWith(".parquet")) {
                schema = ParquetSchema.detect(files.shards(), conn);
                result = DatasetScan.parquet(files.shards(), conn, schema, sink);
            } else if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) {
                result = DatasetScan.jsonl(files.first(), sink);
            } else {
                throw new DatasetException(files.first(), "unknown dataset format (expected .parquet, .jsonl, .ndjson or .json)");
            }
        }
        format = schema == null ? Format.JSONL : schema.format();
        hasImages = result.hasImages();
        try (Statement st = conn.createStatement()) {
            if (!result.withdrawn().isEmpty()) {
                StringBuilder in = new StringBuilder();
                result.withdrawn().forEach(r -> in.append(in.isEmpty() ? "" : ", ").append(r));
                st.execute("DELETE FROM staged WHERE src IN (" + in + ")");
            }
            st.execute("CREATE TABLE pairs AS SELECT (row_number() OVER (ORDER BY src) - 1)::INTEGER AS i, * FROM staged"
                    + " ORDER BY src");
            st.execute("DROP TABLE staged");
            List<Long> rows = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT src FROM pairs ORDER BY i")) {
                while (rs.next()) {
                    rows.add(rs.getLong(1));
                }
            }
            srcOf = rows.stream().mapToLong(Long::longValue).toArray();
        }
        skipped = result.skipped();
        shardStarts = result.shardStarts();
    }

    private static void append(DuckDBAppender app, long row, String id, PairText text, List<String> refs, long off, int len)
            throws SQLException, JsonProcessingException {
        app.beginRow();
        app.append(row);
        app.append(id == null ? Long.toString(row) : id);
        app.append(JSON.writeValueAsString(ChatMessage.toTemplate(text.prompt())));
        app.append(JSON.writeValueAsString(ChatMessage.toTemplate(text.chosen())));
        app.append(JSON.writeValueAsString(ChatMessage.toTemplate(text.rejected())));
        app.append(JSON.writeValueAsString(refs));
        app.append(off);
        app.append(len);
        app.endRow();
    }

    // ------------------------------------------------------------------ access

    /** The file, or the folder, as given. */
    public Path file() {
        return file;
    }

    /** The files read: the file, or a folder's split and shards. */
    public DatasetFiles files() {
        return files;
    }

    public Format format() {
        return format;
    }

    /** Whether the dataset has an image column (then every pair has its images). */
    public boolean hasImages() {
        return hasImages;
    }

    /** Number of usable pairs. */
    public int size() {
        return srcOf.length;
    }

    /** The source row (0-based parquet row, numbered on across shards, or JSONL line) of pair {@code i}. */
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

    /** A stored row before its images are read. */
    private record Stored(long src, String id, List<ChatMessage> prompt, List<ChatMessage> chosen, List<ChatMessage> rejected,
                          List<String> refs, long off, int len) {
        boolean hasInline() {
            return refs.contains(null);
        }
    }

    /**
     * The pairs at {@code indices}, in that order (repeats allowed), with one query for the rows and one
     * for their parquet images. An image whose file vanished since open is an empty array (which {@link
     * ImageCheck} reports as missing).
     */
    public synchronized List<PreferenceExample> get(int[] indices) {
        if (closed) {
            throw new IllegalStateException("dataset " + file + " is closed");
        }
        if (indices.length == 0) {
            return List.of();
        }
        StringBuilder values = new StringBuilder();
        for (int k = 0; k < indices.length; k++) {
            int i = indices[k];
            if (i < 0 || i >= srcOf.length) {
                throw new IndexOutOfBoundsException("index " + i + " of " + srcOf.length + " pairs");
            }
            values.append(k == 0 ? "" : ", ").append('(').append(k).append(", ").append(i).append(')');
        }
        List<Stored> rows = new ArrayList<>(indices.length);
        String sql = "SELECT p.src, p.id, p.prompt, p.chosen, p.rejected, p.refs, p.off, p.len FROM (VALUES " + values
                + ") w(ord, i) JOIN pairs p ON p.i = w.i ORDER BY w.ord";
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                List<String> refs = new ArrayList<>();
                JSON.readTree(rs.getString(6)).forEach(n -> refs.add(n.isNull() ? null : n.asText()));
                rows.add(new Stored(rs.getLong(1), rs.getString(2), messages(rs.getString(3)), messages(rs.getString(4)),
                        messages(rs.getString(5)), refs, rs.getLong(7), rs.getInt(8)));
            }
        } catch (SQLException | IOException e) {
            throw new DatasetException(file, "cannot read rows: " + e.getMessage(), e);
        }
        if (rows.size() != indices.length) {
            throw new DatasetException(file, "read " + rows.size() + " rows for " + indices.length + " indices");
        }
        Map<Long, Map<Integer, byte[]>> parquetBytes = schema == null ? Map.of() : parquetBytes(rows);
        List<PreferenceExample> out = new ArrayList<>(rows.size());
        for (Stored r : rows) {
            JsonNode line = schema == null && r.hasInline() ? jsonlLine(r) : null;
            List<byte[]> images = new ArrayList<>();
            for (int k = 0; k < r.refs().size(); k++) {
                String ref = r.refs().get(k);
                byte[] b = ref != null ? ImageRefs.read(ref)
                        : schema != null ? parquetBytes.getOrDefault(r.src(), Map.of()).get(k)
                        : JsonlImages.inlineBytes(line, k);
                images.add(b == null ? new byte[0] : b);
            }
            out.add(new PreferenceExample(r.id(), images, r.prompt(), r.chosen(), r.rejected(), r.src()));
        }
        return out;
    }

    /** The image blobs of the rows that hold inline images: row → (image index → bytes); one query per shard. */
    private Map<Long, Map<Integer, byte[]>> parquetBytes(List<Stored> rows) {
        Map<Long, Map<Integer, byte[]>> out = new HashMap<>();
        if (schema.bytes() == null) {
            return out;
        }
        Map<Integer, TreeSet<Long>> wanted = new TreeMap<>();   // shard -> its rows, numbered within it
        for (Stored r : rows) {
            if (r.hasInline()) {
                int shard = shardOf(r.src());
                wanted.computeIfAbsent(shard, k -> new TreeSet<>()).add(r.src() - shardStarts[shard]);
            }
        }
        for (Map.Entry<Integer, TreeSet<Long>> e : wanted.entrySet()) {
            long start = shardStarts[e.getKey()];
            TreeSet<Long> local = e.getValue();
            StringBuilder in = new StringBuilder();
            for (long r : local) {
                in.append(in.isEmpty() ? "" : ", ").append(r);
            }
            String sql = "SELECT src, k, b FROM (SELECT file_row_number AS src, unnest(range(len(" + schema.bytes() + "))) AS k, unnest("
                    + schema.bytes() + ") AS b FROM read_parquet(" + quote(files.shards().get(e.getKey()).toString())
                    + ", file_row_number=true) WHERE file_row_number BETWEEN " + local.first() + " AND " + local.last()
                    + " AND file_row_number IN (" + in + "))";
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                while (rs.next()) {
                    byte[] b = rs.getBytes(3);
                    if (b != null) {
                        out.computeIfAbsent(start + rs.getLong(1), x -> new HashMap<>()).put(rs.getInt(2), b);
                    }
                }
            } catch (SQLException ex) {
                throw new DatasetException(file, "cannot read images: " + ex.getMessage(), ex);
            }
        }
        return out;
    }

    /** The shard that holds source row {@code src}. */
    private int shardOf(long src) {
        int k = Arrays.binarySearch(shardStarts, src);
        if (k < 0) {
            return -k - 2;
        }
        while (k + 1 < shardStarts.length && shardStarts[k + 1] == src) {
            k++;   // empty shards start where the next one does
        }
        return k;
    }

    private JsonNode jsonlLine(Stored r) {
        try {
            return JSON.readTree(JsonlLines.read(files.first(), r.off(), r.len()));
        } catch (IOException e) {
            return JSON.createObjectNode(); // the file changed since open: its images read as missing
        }
    }

    private static List<ChatMessage> messages(String json) throws IOException {
        return PairText.messages(JSON.readTree(json), "stored row");
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            conn.close();
        } catch (SQLException ignored) {
            // nothing to do
        }
    }

    static String quote(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
