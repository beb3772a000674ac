package dev.smoldpo.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.demo.DemoSpec;
import dev.smoldpo.runtime.PlacementCheck;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The placement check of the deployment sessions, forced on here on the CPU (where every node runs
 * on the CPU): the first run of each of the three sessions is checked, and only the first.
 */
class CachedDecoderPlacementTest {
    @Test
    void eachSessionsFirstRunIsCheckedOnce() throws Exception {
        DemoDeployment demo = DemoDeployment.get();
        Set<String> tempBefore = placementFolders();
        ModelConfig config = DeploymentFolder.open(demo.deploy).config();
        long[] ids = {1, 2, 3};
        float[] expectedEmbeds;
        float[] expectedLogits;
        try (CachedDecoder plain = CachedDecoder.open(demo.deploy, config, 1, false, PlacementCheck.OFF)) {
            expectedEmbeds = plain.embed(ids);
            expectedLogits = plain.logits(expectedEmbeds, ids.length, 1);
        }
        try (CachedDecoder checked = CachedDecoder.open(demo.deploy, config, 1, false, PlacementCheck.FAIL)) {
            IllegalStateException embed = assertThrows(IllegalStateException.class, () -> checked.embed(ids));
            assertTrue(embed.getMessage().contains("embed_tokens.onnx: Gather"), embed.getMessage());
            assertArrayEquals(expectedEmbeds, checked.embed(ids), "the second run is not checked");

            IllegalStateException decoder = assertThrows(IllegalStateException.class,
                    () -> checked.logits(expectedEmbeds, ids.length, 1));
            assertTrue(decoder.getMessage().contains("decoder_model_merged.onnx: MatMul"), decoder.getMessage());
            assertArrayEquals(expectedLogits, checked.logits(expectedEmbeds, ids.length, 1));

            int tile = DemoSpec.TILE_SIZE;
            FloatBuffer pixels = FloatBuffer.allocate(3 * tile * tile);
            ByteBuffer mask = ByteBuffer.allocateDirect(tile * tile);
            for (int i = 0; i < tile * tile; i++) {
                mask.put(i, (byte) 1);
            }
            IllegalStateException vision = assertThrows(IllegalStateException.class,
                    () -> checked.imageFeatures(pixels, mask, 1, tile, tile));
            assertTrue(vision.getMessage().contains("vision_encoder.onnx: "), vision.getMessage());
        }
        try (CachedDecoder unused = CachedDecoder.open(demo.deploy, config, 1, false, PlacementCheck.REPORT)) {
            // sessions that never run still write their profiles when they close
        }
        assertEquals(tempBefore, placementFolders(), "the profiles are deleted, also those of sessions that never ran");
    }

    /** The profile folders the check makes in the temporary folder. */
    static Set<String> placementFolders() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("smoldpo-placement-")).collect(Collectors.toSet());
        }
    }
}
