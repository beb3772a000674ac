package dev.smoldpo.data;

import dev.smoldpo.data.text.ChatMessage;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Parquet files in TRL's conversational vision preference format, as HuggingFaceH4/rlaif-v_formatted
 * stores it: {@code images} a list of {bytes, path} structs; {@code prompt}, {@code chosen} and
 * {@code rejected} lists of {role, content: [{type, text}]} messages.
 */
final class TrlFixtures {
    private TrlFixtures() {}

    /** One row: its images and messages. */
    record Row(List<byte[]> images, List<ChatMessage> prompt, List<ChatMessage> chosen, List<ChatMessage> rejected) {
        /** A user question with {@code images.size()} image parts first, and one-turn answers. */
        static Row of(List<byte[]> images, String question, String chosen, String rejected) {
            return new Row(images, List.of(ChatMessage.user(question, images.size())), List.of(ChatMessage.assistant(chosen)),
                    List.of(ChatMessage.assistant(rejected)));
        }
    }

    static Path write(Path file, List<Row> rows) throws SQLException {
        String message = "STRUCT(role VARCHAR, content STRUCT(\"type\" VARCHAR, \"text\" VARCHAR)[])[]";
        try (Connection c = DataFixtures.duck(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(images STRUCT(bytes BLOB, path VARCHAR)[], prompt " + message + ", chosen " + message
                    + ", rejected " + message + ")");
            for (Row r : rows) {
                List<Object> params = new ArrayList<>();
                StringBuilder images = new StringBuilder("[");
                for (byte[] image : r.images()) {
                    images.append(images.length() > 1 ? ", " : "").append("{'bytes': ?::BLOB, 'path': NULL}");
                    params.add(image);
                }
                images.append("]::STRUCT(bytes BLOB, path VARCHAR)[]");
                String sql = "INSERT INTO t VALUES (" + images + ", " + messages(r.prompt(), params) + ", "
                        + messages(r.chosen(), params) + ", " + messages(r.rejected(), params) + ")";
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    for (int i = 0; i < params.size(); i++) {
                        if (params.get(i) instanceof byte[] b) {
                            ps.setBytes(i + 1, b);
                        } else {
                            ps.setString(i + 1, (String) params.get(i));
                        }
                    }
                    ps.executeUpdate();
                }
            }
            st.execute("COPY t TO " + PreferenceDataset.quote(file.toString()) + " (FORMAT PARQUET)");
        }
        return file;
    }

    private static String messages(List<ChatMessage> messages, List<Object> params) {
        StringBuilder b = new StringBuilder("[");
        for (ChatMessage m : messages) {
            b.append(b.length() > 1 ? ", " : "").append("{'role': ?, 'content': [");
            params.add(m.role());
            boolean first = true;
            for (ChatMessage.Part p : m.content()) {
                b.append(first ? "" : ", ").append("{'type': ?, 'text': ?::VARCHAR}");
                params.add(p.type());
                params.add(p.text());
                first = false;
            }
            b.append("]}");
        }
        return b.append("]").toString();
    }
}
