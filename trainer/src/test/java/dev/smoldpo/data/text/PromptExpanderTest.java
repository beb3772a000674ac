package dev.smoldpo.data.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.data.text.PromptExpander.TileGrid;
import dev.smoldpo.testing.SharedModels;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

class PromptExpanderTest {
    static final String F = "<fake_token_around_image>";
    static final String G = "<global-img>";
    static final String I = "<image>";

    @Test
    void singleTile() {
        assertEquals(F + G + I.repeat(3) + F, PromptExpander.imageString(TileGrid.single(), 3));
        assertEquals("a" + F + G + I + I + F + "b", PromptExpander.expand("a<image>b", TileGrid.single(), 2));
    }

    @Test
    void splitImage() {
        String expected = F + "<row_1_col_1>" + I.repeat(2) + F + "<row_1_col_2>" + I.repeat(2)
                + F + "<row_1_col_3>" + I.repeat(2) + "\n"
                + F + "<row_2_col_1>" + I.repeat(2) + F + "<row_2_col_2>" + I.repeat(2)
                + F + "<row_2_col_3>" + I.repeat(2) + "\n"
                + "\n" + F + G + I.repeat(2) + F;
        assertEquals(expected, PromptExpander.imageString(new TileGrid(2, 3), 2));
        assertEquals(7, new TileGrid(2, 3).tiles());
        assertEquals(1, TileGrid.single().tiles());
    }

    @Test
    void severalImagesInOrder() {
        String out = PromptExpander.expand("x<image>y<image>z", List.of(new TileGrid(1, 1), TileGrid.single()), 1);
        assertEquals("x" + F + "<row_1_col_1>" + I + "\n\n" + F + G + I + F + "y" + F + G + I + F + "z", out);
        assertThrows(IllegalArgumentException.class, () -> PromptExpander.expand("<image>", List.of(), 1));
        assertThrows(IllegalArgumentException.class,
                () -> PromptExpander.expand("none", List.of(TileGrid.single()), 1));
        assertThrows(IllegalArgumentException.class, () -> new TileGrid(0, 2));
        assertThrows(IllegalArgumentException.class, () -> new TileGrid(-1, -1));
    }

    @Test
    void smolVlmCounts() throws IOException {
        try (HfTokenizer tok = HfTokenizer.load(SharedModels.smolVlmDir())) {
            int image = tok.tokenId(I);
            assertEquals(49190, image);
            assertEquals(49189, tok.tokenId(F));
            assertEquals(49152, tok.tokenId(G));
            assertEquals(49153, tok.tokenId("<row_1_col_1>"));
            assertEquals(49279, tok.tokenId("<end_of_utterance>"));
            // 4x4 tiles + global at image_seq_len 64: 1,127 tokens for the image alone (transformers processing_idefics3.py);
            // row ends give 3 "\n" tokens and one "\n\n" token before the global image
            long[] ids = tok.encode(PromptExpander.imageString(new TileGrid(4, 4), 64));
            assertEquals(1127, ids.length);
            assertEquals(17 * 64, java.util.Arrays.stream(ids).filter(id -> id == image).count());
            assertEquals(tok.encode("\n\n").length, 1);
            // one tile: 67 tokens
            assertEquals(67, tok.encode(PromptExpander.imageString(TileGrid.single(), 64)).length);
            // in a prompt: ids after the image are the text's
            ChatTemplate t = ChatTemplate.load(SharedModels.smolVlmDir());
            String prompt = PromptExpander.expand(t.prompt("What is this?", true), new TileGrid(2, 2), 64);
            long[] p = tok.encode(prompt);
            assertEquals(1, p[0]); // <|im_start|>
            long[] tail = tok.encode("What is this?<end_of_utterance>\nAssistant:");
            long[] end = java.util.Arrays.copyOfRange(p, p.length - tail.length, p.length);
            assertTrue(java.util.Arrays.equals(tail, end));
            assertEquals(49279, p[p.length - 1 - tok.encode("\nAssistant:").length]);
        }
    }
}
