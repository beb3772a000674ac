package dev.smoldpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.data.PreferenceExample;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.Device;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same pair in TRL's standard and conversational formats encodes to the same ids and tiles; several images keep their order. */
class PairEncoderFormatsTest {
    @TempDir
    static Path dir;
    static PairEncoder encoder;
    static ModelConfig model;
    static List<DemoDataset.Pair> demo;

    @BeforeAll
    static void setUp() throws Exception {
        Path artifacts = dir.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--out", artifacts.toString()));
        model = ModelConfig.load(artifacts);
        encoder = new PairEncoder(artifacts, model, new PairEncoder.Settings(512, 256, true, 32), Device.CPU);
        demo = DemoDataset.generate(3, 5, false);
    }

    private static PairEncoder.Encoded encoded(PreferenceExample e) {
        PairEncoder.Outcome o = encoder.encode(List.of(e)).getFirst();
        assertTrue(o instanceof PairEncoder.Encoded, o.toString());
        return (PairEncoder.Encoded) o;
    }

    @Test
    void conversationalAndPlainTextRenderToTheSameIds() {
        DemoDataset.Pair p = demo.getFirst();
        PreferenceExample plain = PreferenceExample.plain("0", p.png(), p.question(), p.chosen(), p.rejected(), 0);
        PreferenceExample conversational = new PreferenceExample("0", List.of(p.png()),
                List.of(new ChatMessage("user", List.of(ChatMessage.Part.image(), ChatMessage.Part.text(p.question())))),
                List.of(new ChatMessage("assistant", List.of(ChatMessage.Part.text(p.chosen())))),
                List.of(new ChatMessage("assistant", List.of(ChatMessage.Part.text(p.rejected())))), 0);
        PairEncoder.Encoded a = encoded(plain);
        PairEncoder.Encoded b = encoded(conversational);
        assertArrayEquals(a.pair().prompt(), b.pair().prompt());
        assertArrayEquals(a.pair().chosen(), b.pair().chosen());
        assertArrayEquals(a.pair().rejected(), b.pair().rejected());
        assertArrayEquals(a.pair().image().pixels(), b.pair().image().pixels());
        assertEquals(a.hash(), b.hash(), "the same reference-cache key");
    }

    @Test
    void twoImagesGiveBothTileSetsInPromptOrder() {
        DemoDataset.Pair first = demo.get(1);
        DemoDataset.Pair second = demo.get(2);
        PreferenceExample one = PreferenceExample.plain("1", first.png(), "Q", "A", "B", 1);
        PreferenceExample other = PreferenceExample.plain("2", second.png(), "Q", "A", "B", 2);
        PreferenceExample both = new PreferenceExample("3", List.of(first.png(), second.png()),
                List.of(ChatMessage.user("Q", 2)), List.of(ChatMessage.assistant("A")), List.of(ChatMessage.assistant("B")), 3);
        PairEncoder.Encoded a = encoded(one);
        PairEncoder.Encoded b = encoded(other);
        PairEncoder.Encoded ab = encoded(both);
        assertEquals(a.pair().image().count() + b.pair().image().count(), ab.pair().image().count());
        float[] expected = new float[a.pair().image().pixels().length + b.pair().image().pixels().length];
        System.arraycopy(a.pair().image().pixels(), 0, expected, 0, a.pair().image().pixels().length);
        System.arraycopy(b.pair().image().pixels(), 0, expected, a.pair().image().pixels().length, b.pair().image().pixels().length);
        assertArrayEquals(expected, ab.pair().image().pixels(), "the first image's tiles, then the second's");
        long imageTokens = java.util.Arrays.stream(ab.pair().prompt()).filter(id -> id == model.imageTokenId()).count();
        assertEquals((long) ab.pair().image().count() * model.imageSeqLen(), imageTokens);
    }
}
