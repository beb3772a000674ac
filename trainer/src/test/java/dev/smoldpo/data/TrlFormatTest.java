package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.smoldpo.cli.Main;
import dev.smoldpo.data.text.ChatMessage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TRL's vision preference formats: an images list, conversational messages with image parts, system turns, several images. */
class TrlFormatTest {
    @TempDir
    Path dir;

    private static List<byte[]> images(int n, int seed) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(DataFixtures.image(20 + 7 * i, 16 + 5 * seed, i % 2 == 0 ? "png" : "jpeg", seed * 10L + i));
        }
        return out;
    }

    @Test
    void conversationalParquetWithAnImagesListReadsEveryImageInOrder() throws Exception {
        List<TrlFixtures.Row> rows = new ArrayList<>();
        rows.add(TrlFixtures.Row.of(images(1, 0), "What is shown?", "A gradient.", "A cat."));
        rows.add(TrlFixtures.Row.of(images(2, 1), "Compare the two pictures.", "The second is wider.", "They are equal."));
        rows.add(new TrlFixtures.Row(images(1, 2), List.of(
                new ChatMessage("system", List.of(ChatMessage.Part.text("Answer briefly."))),
                ChatMessage.user("Colour?", 1)), List.of(ChatMessage.assistant("Mixed.")), List.of(ChatMessage.assistant("Red."))));
        // a literal <image> in the text, or image parts that do not match the images: skipped with a reason
        rows.add(TrlFixtures.Row.of(images(1, 3), "What is <image> here?", "A.", "B."));
        rows.add(TrlFixtures.Row.of(images(1, 4), "Fine question.", "Fine <image> answer.", "B."));
        rows.add(new TrlFixtures.Row(images(2, 5), List.of(ChatMessage.user("Two images, one part.", 1)),
                List.of(ChatMessage.assistant("A.")), List.of(ChatMessage.assistant("B."))));
        Path file = TrlFixtures.write(dir.resolve("rlaif-v.parquet"), rows);
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(PreferenceDataset.Format.CONVERSATIONAL_PARQUET, ds.format());
            assertTrue(ds.hasImages());
            assertEquals(3, ds.size());
            assertEquals(2, ds.skipped().count(SkipReport.IMAGE_TOKEN_IN_TEXT), ds.skipped().summary());
            assertEquals(List.of(3L, 4L), ds.skipped().examples().get(SkipReport.IMAGE_TOKEN_IN_TEXT), "the right rows are named");
            assertEquals(List.of(5L), ds.skipped().examples().get(SkipReport.IMAGE_COUNT_MISMATCH));
            List<PreferenceExample> got = ds.get(new int[] {0, 1, 2});
            for (int i = 0; i < 3; i++) {
                PreferenceExample e = got.get(i);
                assertEquals(rows.get(i).images().size(), e.images().size());
                for (int k = 0; k < e.images().size(); k++) {
                    assertArrayEquals(rows.get(i).images().get(k), e.images().get(k), "row " + i + " image " + k);
                }
                assertEquals(rows.get(i).prompt(), e.prompt());
                assertEquals(rows.get(i).chosen(), e.chosen());
            }
            assertEquals("system", got.get(2).prompt().getFirst().role());
        }
    }

    @Test
    void jsonlInBothFormatsWithImagesListsOfPathsAndBase64() throws Exception {
        List<byte[]> imgs = images(2, 7);
        Files.write(dir.resolve("a.png"), imgs.get(0));
        String b64 = Base64.getEncoder().encodeToString(imgs.get(1));
        List<String> lines = List.of(
                // standard format: plain strings, images first in the user turn
                "{\"images\": [\"a.png\", {\"bytes\": \"" + b64 + "\"}], \"prompt\": \"Which is larger?\", \"chosen\": \"The first.\","
                        + " \"rejected\": \"The second.\"}",
                // conversational, content as a plain string in the answers
                "{\"images\": [\"a.png\"], \"prompt\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"text\","
                        + " \"text\": \"What?\"}]}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"This.\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"That.\"}]}",
                "{\"images\": [\"a.png\"], \"prompt\": \"Has <image> in it\", \"chosen\": \"x\", \"rejected\": \"y\"}",
                "{\"images\": [\"a.png\"], \"prompt\": 42, \"chosen\": \"x\", \"rejected\": \"y\"}");
        Path file = dir.resolve("pairs.jsonl");
        Files.writeString(file, String.join("\n", lines) + "\n");
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(2, ds.size(), ds.skipped().summary());
            assertEquals(1, ds.skipped().count(SkipReport.IMAGE_TOKEN_IN_TEXT));
            assertEquals(1, ds.skipped().count(SkipReport.BAD_MESSAGES));
            PreferenceExample plain = ds.get(0);
            assertEquals(List.of(ChatMessage.user("Which is larger?", 2)), plain.prompt());
            assertArrayEquals(imgs.get(0), plain.images().get(0));
            assertArrayEquals(imgs.get(1), plain.images().get(1));
            PreferenceExample conversational = ds.get(1);
            assertEquals(List.of(ChatMessage.user("What?", 1)), conversational.prompt());
            assertEquals(List.of(ChatMessage.assistant("This.")), conversational.chosen());
        }
    }

    @Test
    void columnsOrKeysTheLoaderDoesNotKnowFailBeforeTrainingNamingThem() throws Exception {
        Path jsonl = dir.resolve("odd.jsonl");
        Files.writeString(jsonl, "{\"question_text\": \"q\", \"good\": \"a\", \"bad\": \"b\"}\n");
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(jsonl));
        assertTrue(e.getMessage().contains("keys found: [question_text, good, bad]"), e.getMessage());
        Path parquet = dir.resolve("odd-images.parquet");
        try (var c = DataFixtures.duck(); var st = c.createStatement()) {
            st.execute("COPY (SELECT 'q' AS prompt, 'a' AS chosen, 'b' AS rejected, [1, 2] AS images) TO "
                    + PreferenceDataset.quote(parquet.toString()) + " (FORMAT PARQUET)");
        }
        e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(parquet));
        assertTrue(e.getMessage().contains("unsupported images column type INTEGER[]"), e.getMessage());
        assertTrue(e.getMessage().contains("columns found: [prompt VARCHAR, chosen VARCHAR, rejected VARCHAR, images INTEGER[]]"),
                e.getMessage());
    }

    @Test
    void aTrlFormatParquetWithTwoImagesInSomeRowsTrains() throws Exception {
        List<TrlFixtures.Row> rows = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            rows.add(TrlFixtures.Row.of(images(i % 3 == 0 ? 2 : 1, i), "Describe picture " + i + ".",
                    "A gradient, number " + i + ".", "A cat on a mat."));
        }
        Path file = TrlFixtures.write(dir.resolve("trl.parquet"), rows);
        Path artifacts = dir.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        Path out = dir.resolve("run");
        assertEquals(0, Main.run("fit", "--artifacts", artifacts.toString(), "--dataset", file.toString(), "--output-dir",
                out.toString(), "--max-steps", "3", "--per-device-train-batch-size", "2", "--gradient-accumulation-steps", "1",
                "--image-longest-edge", "32", "--test-size", "2", "--threads", "1", "--eval-strategy", "steps", "--eval-steps", "3"));
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals(3, summary.get("steps").asInt());
        assertEquals(0, summary.get("skipped").get("total").asInt(), summary.toString());
        assertEquals(6, summary.get("pairs_trained").asInt());
        assertTrue(summary.get("last_eval").get("eval_loss").isNumber());
    }
}
