package dev.smoldpo.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightCheckTest {
    @TempDir
    Path dir;

    /** The real config shrunk to a tiny model (same structure, small shapes). */
    static ModelConfig tinyConfig() throws IOException {
        ObjectNode t = ModelConfigTest.realTree();
        t.put("scale_factor", 2);
        t.put("image_token_id", 10);
        t.put("vocab_size", 20);
        ObjectNode v = (ObjectNode) t.get("vision_config");
        v.put("hidden_size", 8).put("intermediate_size", 16).put("num_hidden_layers", 1)
                .put("num_attention_heads", 2).put("patch_size", 4).put("image_size", 16);
        ObjectNode x = (ObjectNode) t.get("text_config");
        x.put("hidden_size", 8).put("intermediate_size", 16).put("num_hidden_layers", 2)
                .put("num_attention_heads", 2).put("num_key_value_heads", 1).put("head_dim", 4)
                .put("vocab_size", 20);
        return ModelConfig.parse(t, Path.of("tiny/config.json"));
    }

    private static float[] zeros(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return new float[(int) n];
    }

    @Test
    void completeCheckpointPasses() throws IOException {
        ModelConfig c = tinyConfig();
        SafetensorsWriter w = new SafetensorsWriter();
        for (ModelConfig.WeightSpec s : c.expectedWeights()) {
            w.add(s.name(), SafetensorsDtype.BF16, s.shape(), zeros(s.shape()));
        }
        w.add("extra.unused", SafetensorsDtype.F32, new long[] {1}, new float[1]);
        Path f = dir.resolve("model.safetensors");
        w.write(f);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            WeightCheck.Report r = WeightCheck.verify(c, sf);
            assertTrue(r.ok());
            assertEquals(List.of("extra.unused"), r.unexpected());
            // every tensor of a complete checkpoint can be streamed one at a time
            for (ModelConfig.WeightSpec s : c.expectedWeights()) {
                assertEquals(s.elementCount(), sf.readFloat32(s.name()).length);
            }
        }
    }

    @Test
    void missingAndMismatchedTensorsAreListedTogether() throws IOException {
        ModelConfig c = tinyConfig();
        String dropped = "model.text_model.layers.1.mlp.down_proj.weight";
        String reshaped = "model.connector.modality_projection.proj.weight";
        SafetensorsWriter w = new SafetensorsWriter();
        for (ModelConfig.WeightSpec s : c.expectedWeights()) {
            if (s.name().equals(dropped) || s.name().equals("lm_head.weight")) {
                continue;
            }
            long[] shape = s.name().equals(reshaped) ? new long[] {8, 16} : s.shape();
            w.add(s.name(), SafetensorsDtype.F32, shape, zeros(shape));
        }
        Path f = dir.resolve("bad.safetensors");
        w.write(f);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            HfFormatException e = assertThrows(HfFormatException.class, () -> WeightCheck.verify(c, sf));
            String msg = e.getMessage();
            assertTrue(msg.contains("2 missing, 1 mismatched"), msg);
            assertTrue(msg.contains(dropped + " [8, 16]"), msg);
            assertTrue(msg.contains("lm_head.weight [20, 8]"), msg);
            assertTrue(msg.contains(reshaped + ": expected shape [8, 32], found [8, 16]"), msg);
        }
    }
}
