package dev.smoldpo.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A .json file holding one array of row objects (json.dump(rows)) reads as rows, as HF's load_dataset("json") does. */
class JsonArrayDatasetTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void aPrettyPrintedArrayOfRowsReadsAsRowsWithTheirImages() throws Exception {
        byte[] png0 = DataFixtures.image(10, 6, "png", 1);
        byte[] png2 = DataFixtures.image(7, 9, "png", 2);
        ArrayNode rows = JSON.createArrayNode();
        rows.addObject().put("id", "a").put("prompt", "What colour? [\"quoted\"] {braces}").put("chosen", "red").put("rejected", "blue")
                .put("image_base64", Base64.getEncoder().encodeToString(png0));
        rows.add(42);   // not a row object
        rows.addObject().put("id", "c").put("prompt", "Which shape?").put("chosen", "round").put("rejected", "square")
                .put("image_base64", Base64.getEncoder().encodeToString(png2));
        rows.addObject().put("id", "d").put("prompt", "Same?").put("chosen", "x").put("rejected", "x")
                .put("image_base64", Base64.getEncoder().encodeToString(png0));
        Path file = tmp.resolve("pairs.json");
        // a byte order mark and indentation, as editors and json.dump(indent=2) write them
        Files.write(file, ("\uFEFF  " + JSON.writerWithDefaultPrettyPrinter().writeValueAsString(rows)).getBytes(StandardCharsets.UTF_8));
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(PreferenceDataset.Format.JSONL, ds.format());
            assertEquals(2, ds.size(), ds.skipped().summary());
            assertEquals(List.of(1L), ds.skipped().examples().get(SkipReport.BAD_JSON), "numbered by place in the array");
            assertEquals(List.of(3L), ds.skipped().examples().get(SkipReport.IDENTICAL_ANSWERS));
            PreferenceExample a = ds.get(0);
            assertEquals("a", a.id());
            assertEquals(0, a.sourceRow());
            assertEquals("What colour? [\"quoted\"] {braces}", a.promptText());
            assertArrayEquals(png0, a.image(), "the base64 image re-read from its element's bytes");
            PreferenceExample c = ds.get(1);
            assertEquals(2, c.sourceRow());
            assertEquals("round", c.chosenText());
            assertArrayEquals(png2, c.image());
        }
    }

    @Test
    void aTruncatedArraySaysSoInsteadOfSkippingItsRows() throws Exception {
        Path file = tmp.resolve("cut.json");
        Files.writeString(file, "[{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}, {\"prompt\": \"q\", \"cho");
        DatasetException e = assertThrows(DatasetException.class, () -> PreferenceDataset.open(file));
        assertTrue(e.getMessage().startsWith("dataset " + file.toAbsolutePath().normalize() + ": not valid JSON (a .json file is read"
                + " as JSON Lines, or as one array of row objects): "), e.getMessage());
    }

    @Test
    void jsonLinesInADotJsonFileStillReadLineByLine() throws Exception {
        Path file = tmp.resolve("lines.json");
        Files.writeString(file, "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n{\"prompt\": \"q\", \"chosen\": \"c\", \"rejected\": \"d\"}\n");
        try (PreferenceDataset ds = PreferenceDataset.open(file)) {
            assertEquals(2, ds.size());
            assertEquals("d", ds.get(1).rejectedText());
        }
    }
}
