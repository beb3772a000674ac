package dev.smoldpo.data;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What a parquet file's columns mean, as SQL expressions over {@code read_parquet(...)}. Three shapes:
 * <ul>
 *   <li>RLHF-V (openbmb/RLHF-V-Dataset): {@code text} holds a JSON object {question|prompt, chosen,
 *       rejected}; {@code image} a struct {bytes, path}; {@code idx} the id;</li>
 *   <li>TRL's standard format: {@code prompt} (or {@code question}), {@code chosen}, {@code rejected} strings;</li>
 *   <li>TRL's conversational format: the same columns as lists of {role, content} messages (e.g.
 *       HuggingFaceH4/rlaif-v_formatted).</li>
 * </ul>
 * Images come from {@code images} (a list of structs {bytes, path}, of blobs, or of path strings: TRL's
 * vision column) or from one {@code image} (struct, blob or path) and/or {@code image_path}.
 *
 * @param prompt   SQL giving the prompt as JSON text (a JSON string, or an array of messages)
 * @param chosen   the same for chosen
 * @param rejected the same for rejected
 * @param textOk   SQL true when the row's text could be read (RLHF-V: the text column is a JSON object)
 * @param textNull SQL true when the row has no text at all (RLHF-V: the text column is null)
 * @param images   SQL giving, per image, JSON {@code {"b": has bytes, "p": [candidate paths]}}; "[]" for none
 * @param bytes    SQL giving the list of image blobs (in order), or null when no column holds bytes
 * @param id       SQL giving the row id as text, or NULL
 * @param hasImages whether the file has an image column at all
 */
record ParquetSchema(PreferenceDataset.Format format, String prompt, String chosen, String rejected, String textOk,
                     String textNull, String images, String bytes, String id, boolean hasImages) {
    private static final Pattern STRUCT_BYTES = Pattern.compile("(?i)[(,]\\s*\"?bytes\"?\\s+BLOB\\b");
    private static final Pattern STRUCT_PATH = Pattern.compile("(?i)[(,]\\s*\"?path\"?\\s+VARCHAR\\b");

    /** The shared schema of a split's shards; shards that differ would mix meanings, so they are refused. */
    static ParquetSchema detect(List<Path> shards, Connection conn) {
        ParquetSchema first = detect(shards.getFirst(), conn);
        for (Path shard : shards.subList(1, shards.size())) {
            if (!detect(shard, conn).equals(first)) {
                throw new DatasetException(shard, "its columns differ from those of " + shards.getFirst().getFileName()
                        + ", the split's first shard; " + columns(shard, conn) + " (shards of one split must share one schema)");
            }
        }
        return first;
    }

    private static String columns(Path file, Connection conn) {
        StringBuilder sb = new StringBuilder("columns found: [");
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("DESCRIBE SELECT * FROM read_parquet(" + PreferenceDataset.quote(file.toString()) + ")")) {
            while (rs.next()) {
                sb.append(sb.charAt(sb.length() - 1) == '[' ? "" : ", ").append(rs.getString(1).toLowerCase(java.util.Locale.ROOT))
                        .append(' ').append(rs.getString(2));
            }
        } catch (SQLException e) {
            return "columns unreadable: " + e.getMessage();
        }
        return sb.append(']').toString();
    }

    static ParquetSchema detect(Path file, Connection conn) {
        Map<String, String> types = new LinkedHashMap<>();   // lower-case name -> type
        Map<String, String> names = new LinkedHashMap<>();   // lower-case name -> quoted identifier
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("DESCRIBE SELECT * FROM read_parquet(" + PreferenceDataset.quote(file.toString()) + ")")) {
            while (rs.next()) {
                String n = rs.getString(1);
                types.put(n.toLowerCase(java.util.Locale.ROOT), rs.getString(2));
                names.put(n.toLowerCase(java.util.Locale.ROOT), "\"" + n.replace("\"", "\"\"") + "\"");
            }
        } catch (SQLException e) {
            throw new DatasetException(file, "not a readable parquet file: " + e.getMessage(), e);
        }
        String columns = "columns found: " + types.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList();
        String id = types.containsKey("id") ? "CAST(" + names.get("id") + " AS VARCHAR)"
                : types.containsKey("idx") ? "CAST(" + names.get("idx") + " AS VARCHAR)" : "NULL";
        String[] images = images(file, types, names, columns);
        boolean hasImages = images != null;
        String imageList = hasImages ? images[0] : "[]";
        String bytes = hasImages ? images[1] : null;
        if (types.containsKey("chosen") && types.containsKey("rejected")) {
            String p = types.containsKey("prompt") ? "prompt" : types.containsKey("question") ? "question" : null;
            if (p == null) {
                throw new DatasetException(file, "has chosen and rejected but no prompt or question column; " + columns);
            }
            boolean conversational = false;
            for (String k : new String[] {p, "chosen", "rejected"}) {
                String t = types.get(k);
                if (t.endsWith("[]") && t.startsWith("STRUCT")) {
                    conversational = true;
                } else if (!t.equals("VARCHAR")) {
                    throw new DatasetException(file, "column " + k + " is " + t + ", expected a string (TRL's standard format) or a"
                            + " list of {role, content} messages (its conversational format); " + columns);
                }
            }
            return new ParquetSchema(conversational ? PreferenceDataset.Format.CONVERSATIONAL_PARQUET
                    : PreferenceDataset.Format.GENERIC_PARQUET, "to_json(" + names.get(p) + ")",
                    "to_json(" + names.get("chosen") + ")", "to_json(" + names.get("rejected") + ")", "true", "false",
                    imageList, bytes, id, hasImages);
        }
        if ("VARCHAR".equals(types.get("text"))) {
            String t = names.get("text");
            String valid = "json_valid(" + t + ")";
            String ok = "coalesce(CASE WHEN " + valid + " THEN json_type(" + t + ") = 'OBJECT' END, false)";
            return new ParquetSchema(PreferenceDataset.Format.RLHF_V_PARQUET,
                    "CASE WHEN " + valid + " THEN coalesce(json_extract(" + t + ", '$.question'), json_extract(" + t + ", '$.prompt')) END",
                    "CASE WHEN " + valid + " THEN json_extract(" + t + ", '$.chosen') END",
                    "CASE WHEN " + valid + " THEN json_extract(" + t + ", '$.rejected') END", ok, t + " IS NULL",
                    imageList, bytes, id, hasImages);
        }
        throw new DatasetException(file, "matches no known schema (want TRL's prompt|question, chosen, rejected as strings or"
                + " message lists [+ images|image|image_path]; or RLHF-V: text JSON {question, chosen, rejected} + image"
                + " {bytes, path}); " + columns);
    }

    /** {per-image descriptor list SQL, bytes list SQL or null}, or null when the file has no image column. */
    private static String[] images(Path file, Map<String, String> types, Map<String, String> names, String columns) {
        String pathCol = "VARCHAR".equals(types.get("image_path")) ? names.get("image_path") : "NULL::VARCHAR";
        String list = types.get("images");
        if (list != null) {
            String c = names.get("images");
            if (list.startsWith("STRUCT") && list.endsWith("[]") && STRUCT_BYTES.matcher(list).find()) {
                String path = STRUCT_PATH.matcher(list).find() ? "x.path" : "NULL::VARCHAR";
                return new String[] {"coalesce(list_transform(" + c + ", x -> {'b': coalesce(octet_length(x.bytes) > 0, false), 'p': ["
                        + path + "]}), [])", "list_transform(" + c + ", x -> x.bytes)"};
            }
            if (list.equals("BLOB[]")) {
                return new String[] {"coalesce(list_transform(" + c + ", x -> {'b': coalesce(octet_length(x) > 0, false), "
                        + "'p': []::VARCHAR[]}), [])", c};
            }
            if (list.equals("VARCHAR[]")) {
                return new String[] {"coalesce(list_transform(" + c + ", x -> {'b': false, 'p': [x]}), [])", null};
            }
            throw new DatasetException(file, "unsupported images column type " + list
                    + " (want a list of STRUCT(bytes BLOB, path VARCHAR), of BLOB, or of path strings); " + columns);
        }
        String one = types.get("image");
        if (one != null) {
            String c = names.get("image");
            if (one.startsWith("STRUCT") && STRUCT_BYTES.matcher(one).find()) {
                String path = STRUCT_PATH.matcher(one).find() ? c + ".path" : "NULL::VARCHAR";
                return new String[] {"[{'b': coalesce(octet_length(" + c + ".bytes) > 0, false), 'p': [" + path + ", " + pathCol
                        + "]}]", "[" + c + ".bytes]"};
            }
            if (one.equals("BLOB")) {
                return new String[] {"[{'b': coalesce(octet_length(" + c + ") > 0, false), 'p': [" + pathCol + "]}]", "[" + c + "]"};
            }
            if (one.equals("VARCHAR")) {
                return new String[] {"[{'b': false, 'p': [" + c + ", " + pathCol + "]}]", null};
            }
            throw new DatasetException(file, "unsupported image column type " + one
                    + " (want BLOB, STRUCT(bytes BLOB, path VARCHAR) or a path string); " + columns);
        }
        if (!pathCol.startsWith("NULL")) {
            return new String[] {"[{'b': false, 'p': [" + pathCol + "]}]", null};
        }
        return null;
    }
}
