package dev.smoldpo.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * One pass over a dataset file (or a split's parquet shards) at open: each row's text parsed into chat messages ({@link PairText}),
 * its images located ({@link ImageRefs}), and either handed to a {@link RowSink} or counted as skipped.
 */
final class DatasetScan {
    private DatasetScan() {}

    /** Receives each usable row. */
    @FunctionalInterface
    interface RowSink {
        void accept(long row, String id, PairText text, List<String> imageRefs, long offset, int length) throws Exception;
    }

    /**
     * What the pass found: rows skipped by reason, whether the file has images at all, and rows handed to
     * the sink that turned out unusable later (their source row numbers; to remove again).
     */
    record Result(SkipReport skipped, boolean hasImages, List<Long> withdrawn, long[] shardStarts) {}

    /**
     * The rows of parquet shards, numbered on across shards (shard 2's first row follows shard 1's last),
     * so that skip reports and {@link PreferenceDataset#sourceRow} name one row of the dataset.
     */
    static Result parquet(List<Path> shards, Connection conn, ParquetSchema schema, RowSink sink) throws Exception {
        SkipReport.Builder skips = SkipReport.builder();
        long[] starts = new long[shards.size()];
        long next = 0;
        for (int k = 0; k < shards.size(); k++) {
            Path file = shards.get(k);
            starts[k] = next;
            String sql = "SELECT file_row_number, " + schema.id() + ", " + schema.textNull() + ", " + schema.textOk() + ", "
                    + schema.prompt() + ", " + schema.chosen() + ", " + schema.rejected() + ", to_json(" + schema.images() + ")"
                    + " FROM read_parquet(" + PreferenceDataset.quote(file.toString()) + ", file_row_number=true)";
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                while (rs.next()) {
                    long row = starts[k] + rs.getLong(1);
                    next = Math.max(next, row + 1);
                    if (rs.getBoolean(3)) {
                        skips.add(SkipReport.MISSING_TEXT, row);
                        continue;
                    }
                    if (!rs.getBoolean(4)) {
                        skips.add(SkipReport.BAD_JSON, row);
                        continue;
                    }
                    JsonNode images = json(rs.getString(8));
                    ImageRefs.Resolved refs = ImageRefs.resolve(images, file.getParent());
                    PairText.Parsed parsed = PairText.parse(json(rs.getString(5)), json(rs.getString(6)), json(rs.getString(7)),
                            images.size());
                    String reason = reason(parsed, schema.hasImages() && refs.problem() != null);
                    if (reason != null) {
                        skips.add(reason, row, note(reason, refs));
                        continue;
                    }
                    sink.accept(row, rs.getString(2), parsed.text(), refs.refs(), 0, 0);
                }
            }
        }
        return new Result(skips.build(), schema.hasImages(), List.of(), starts);
    }

    static Result jsonl(Path file, RowSink sink) throws Exception {
        SkipReport.Builder skips = SkipReport.builder();
        List<Long> imageless = new ArrayList<>();
        List<String> firstKeys = new ArrayList<>();
        boolean[] anyImages = {false};
        boolean[] anyPair = {false};
        JsonlLines.forEach(file, (number, offset, bytes) -> {
            if (JsonlLines.isBlank(bytes)) {
                return;
            }
            JsonNode obj;
            try {
                obj = PreferenceDataset.JSON.readTree(bytes);
            } catch (IOException e) {
                obj = null;
            }
            if (obj == null || !obj.isObject()) {
                skips.add(SkipReport.BAD_JSON, number);
                return;
            }
            if (firstKeys.isEmpty()) {
                obj.fieldNames().forEachRemaining(firstKeys::add);
            }
            anyPair[0] |= (obj.has("prompt") || obj.has("question")) && obj.has("chosen") && obj.has("rejected");
            boolean mentionsImages = JsonlImages.mentionsImages(obj);
            anyImages[0] |= mentionsImages;
            List<JsonNode> descriptors = JsonlImages.descriptors(obj);
            ImageRefs.Resolved refs = ImageRefs.resolve(descriptors, file.getParent());
            JsonNode prompt = obj.has("prompt") ? obj.get("prompt") : obj.get("question");
            PairText.Parsed parsed = PairText.parse(prompt, obj.get("chosen"), obj.get("rejected"), descriptors.size());
            String reason = reason(parsed, mentionsImages && refs.problem() != null);
            if (reason != null) {
                skips.add(reason, number, note(reason, refs));
                return;
            }
            if (!mentionsImages) {
                imageless.add(number);
            }
            String id = obj.hasNonNull("id") ? obj.get("id").asText() : obj.hasNonNull("idx") ? obj.get("idx").asText() : null;
            sink.accept(number, id, parsed.text(), refs.refs(), offset, bytes.length);
        });
        if (!anyPair[0] && !firstKeys.isEmpty()) {
            throw new DatasetException(file, "lines have no prompt (or question), chosen and rejected keys; keys found: " + firstKeys
                    + " (want TRL's prompt, chosen, rejected as strings or message lists, and images|image|image_path|image_base64)");
        }
        if (anyImages[0] && !imageless.isEmpty()) {
            // a vision dataset: a line without any image is not a text-only pair but a pair missing its image
            skips.add(SkipReport.MISSING_IMAGE, imageless.size(), imageless.subList(0, Math.min(SkipReport.MAX_EXAMPLES, imageless.size())));
            return new Result(skips.build(), true, imageless, new long[] {0});
        }
        return new Result(skips.build(), anyImages[0], List.of(), new long[] {0});
    }

    /** The skip reason: the text's, but a missing image before an image-count mismatch. */
    private static String reason(PairText.Parsed parsed, boolean imageMissing) {
        if (parsed.skipReason() != null && !parsed.skipReason().equals(SkipReport.IMAGE_COUNT_MISMATCH)) {
            return parsed.skipReason();
        }
        return imageMissing ? SkipReport.MISSING_IMAGE : parsed.skipReason();
    }

    /** Which image is missing and why, for a row skipped as missing its image. */
    private static String note(String reason, ImageRefs.Resolved refs) {
        return reason.equals(SkipReport.MISSING_IMAGE) ? refs.problem() : null;
    }

    private static JsonNode json(String text) throws IOException {
        return text == null ? null : PreferenceDataset.JSON.readTree(text);
    }
}
