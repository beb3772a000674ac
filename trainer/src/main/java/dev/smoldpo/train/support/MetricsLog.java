package dev.smoldpo.train.support;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * The training log {@value #FILE_NAME}: one JSON object per line, flushed line by line, with TRL's
 * metric names (see the constants) plus {@code step} and {@code epoch}; evaluation records carry the
 * same names prefixed with {@value #EVAL_PREFIX} (as HF's Trainer logs them). Non-finite numbers are
 * written as the strings {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"} (JSON has no literal for
 * them) and read back as doubles.
 */
public final class MetricsLog implements Closeable {
    public static final String FILE_NAME = "metrics.jsonl";

    public static final String STEP = "step";
    public static final String EPOCH = "epoch";
    public static final String LOSS = "loss";
    public static final String REWARDS_CHOSEN = "rewards/chosen";
    public static final String REWARDS_REJECTED = "rewards/rejected";
    public static final String REWARDS_ACCURACIES = "rewards/accuracies";
    public static final String REWARDS_MARGINS = "rewards/margins";
    public static final String LOGPS_CHOSEN = "logps/chosen";
    public static final String LOGPS_REJECTED = "logps/rejected";
    public static final String LOGITS_CHOSEN = "logits/chosen";
    public static final String LOGITS_REJECTED = "logits/rejected";
    public static final String LEARNING_RATE = "learning_rate";
    public static final String GRAD_NORM = "grad_norm";
    public static final String PAIRS_PER_SECOND = "pairs_per_second";
    public static final String TOKENS_PER_SECOND = "tokens_per_second";
    /** Optimizer steps skipped so far for a non-finite loss or gradient. */
    public static final String SKIPPED_NONFINITE_STEPS = "skipped/nonfinite_steps";
    /** Pairs skipped so far (e.g. too long even after truncation, unreadable image). */
    public static final String SKIPPED_PAIRS = "skipped/pairs";
    public static final String EVAL_PREFIX = "eval_";

    /** {@code eval_} + key, e.g. {@code eval_rewards/accuracies}. */
    public static String eval(String key) {
        return EVAL_PREFIX + key;
    }

    private final Path file;
    private final BufferedWriter out;

    private MetricsLog(Path file, BufferedWriter out) {
        this.file = file;
        this.out = out;
    }

    /** Opens {@code outputDir/metrics.jsonl} for appending (created if missing). */
    public static MetricsLog open(Path outputDir) throws IOException {
        Files.createDirectories(outputDir);
        Path file = outputDir.resolve(FILE_NAME);
        return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE));
    }

    /** Starts {@code outputDir/metrics.jsonl} afresh: a new run never appends to an earlier run's history. */
    public static MetricsLog create(Path outputDir) throws IOException {
        Files.createDirectories(outputDir);
        Path file = outputDir.resolve(FILE_NAME);
        return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE));
    }

    /**
     * Opens the log of a run resumed at {@code resumedStep}: records of later steps (logged after that
     * checkpoint by the interrupted run) are dropped first, so the curves have no duplicated steps.
     */
    public static MetricsLog openForResume(Path outputDir, long resumedStep) throws IOException {
        Path file = outputDir.resolve(FILE_NAME);
        if (Files.exists(file)) {
            List<Record> kept = new ArrayList<>();
            for (Record r : read(file)) {
                if (!r.has(STEP) || r.step() <= resumedStep) {
                    kept.add(r);
                }
            }
            Path tmp = Files.createTempFile(outputDir, "." + FILE_NAME, ".tmp");
            try {
                StringBuilder b = new StringBuilder();
                for (Record r : kept) {
                    b.append(line(r.values())).append('\n');
                }
                Files.writeString(tmp, b, StandardCharsets.UTF_8);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return open(outputDir);
    }

    public Path file() {
        return file;
    }

    /** Appends {@code {"step": step, "epoch": epoch, ...metrics}} and flushes. */
    public void log(long step, double epoch, Map<String, ?> metrics) throws IOException {
        Map<String, Object> record = new LinkedHashMap<>();
        record.put(STEP, step);
        record.put(EPOCH, epoch);
        record.putAll(metrics);
        log(record);
    }

    /** Appends one record (values: numbers, strings, booleans or null) and flushes. */
    public synchronized void log(Map<String, ?> record) throws IOException {
        out.write(line(record));
        out.write('\n');
        out.flush();
    }

    private static String line(Map<String, ?> record) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, ?> e : record.entrySet()) {
            Object v = e.getValue();
            if (v == null) {
                o.putNull(e.getKey());
            } else if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (Double.isFinite(d)) {
                    o.put(e.getKey(), d);
                } else {
                    o.put(e.getKey(), Double.toString(d));
                }
            } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                o.put(e.getKey(), ((Number) v).longValue());
            } else if (v instanceof Number n) {
                o.put(e.getKey(), n.doubleValue());
            } else if (v instanceof Boolean b) {
                o.put(e.getKey(), b);
            } else {
                o.put(e.getKey(), v.toString());
            }
        }
        try {
            return Json.MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }

    /** One logged record, keys in the written order. */
    public record Record(Map<String, Object> values) {
        public Record {
            values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        }

        public boolean has(String key) {
            return values.get(key) != null;
        }

        /** A numeric value (NaN/Infinity included); empty when absent or not a number. */
        public OptionalDouble get(String key) {
            return values.get(key) instanceof Number n ? OptionalDouble.of(n.doubleValue()) : OptionalDouble.empty();
        }

        public long step() {
            Object v = values.get(STEP);
            if (!(v instanceof Number n)) {
                throw new IllegalStateException("record without a step: " + values);
            }
            return n.longValue();
        }

        public OptionalDouble epoch() {
            return get(EPOCH);
        }

        /** Whether this is an evaluation record (has an {@code eval_} key). */
        public boolean isEval() {
            for (String k : values.keySet()) {
                if (k.startsWith(EVAL_PREFIX)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Reads a metrics file. An unparsable last line (a write cut short by a crash) is ignored; an
     * unparsable line elsewhere is an error naming the line.
     */
    public static List<Record> read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Record> records = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String text = lines.get(i).strip();
            if (text.isEmpty()) {
                continue;
            }
            JsonNode node;
            try {
                node = Json.MAPPER.readTree(text);
            } catch (JsonProcessingException e) {
                if (i == lines.size() - 1) {
                    break;
                }
                throw new IOException(file + ":" + (i + 1) + ": not a JSON object: " + e.getOriginalMessage(), e);
            }
            if (!(node instanceof ObjectNode o)) {
                throw new IOException(file + ":" + (i + 1) + ": not a JSON object");
            }
            Map<String, Object> values = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                values.put(e.getKey(), value(e.getValue()));
            }
            records.add(new Record(values));
        }
        return records;
    }

    private static Object value(JsonNode v) {
        if (v.isNull()) {
            return null;
        }
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            return v.longValue();
        }
        if (v.isNumber()) {
            return v.doubleValue();
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isTextual()) {
            return switch (v.textValue()) {
                case "NaN" -> Double.NaN;
                case "Infinity" -> Double.POSITIVE_INFINITY;
                case "-Infinity" -> Double.NEGATIVE_INFINITY;
                default -> v.textValue();
            };
        }
        return v.toString();
    }

    /** Unchecked variant of {@link #read(Path)}. */
    public static List<Record> readUnchecked(Path file) {
        try {
            return read(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
