package dev.smoldpo.model.demo;

import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.hf.SafetensorsDtype;
import dev.smoldpo.hf.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A checkpoint with a real config's exact shapes and random weights (HF-style init: N(0, 0.02)-like
 * matrices, unit norms, zero biases), generated tensor by tensor. Benchmarks and tests use it for
 * SmolVLM-256M's shapes without the real weights.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {}

    /**
     * Writes config.json (and the tokenizer/processor files found next to {@code configFile}) and a
     * random model.safetensors into {@code dir}.
     */
    public static Path write(Path configFile, Path dir, long seed, SafetensorsDtype dtype) throws IOException {
        ModelConfig config = ModelConfig.load(configFile);
        Files.createDirectories(dir);
        Path sourceDir = configFile.toAbsolutePath().getParent();
        for (String name : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "added_tokens.json", "chat_template.json", "preprocessor_config.json", "processor_config.json",
                "generation_config.json")) {
            Path source = name.equals("config.json") ? configFile : sourceDir.resolve(name);
            if (Files.isRegularFile(source)) {
                Files.copy(source, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        SafetensorsWriter writer = new SafetensorsWriter();
        int index = 0;
        for (ModelConfig.WeightSpec spec : config.expectedWeights()) {
            long tensorSeed = seed * 1_000_003L + index++;
            writer.addGenerated(spec.name(), dtype, spec.shape(), () -> values(spec, tensorSeed));
        }
        writer.write(dir.resolve("model.safetensors"));
        return dir;
    }

    private static float[] values(ModelConfig.WeightSpec spec, long seed) {
        float[] v = new float[Math.toIntExact(spec.elementCount())];
        String name = spec.name();
        if (name.endsWith("norm.weight") || name.contains("layernorm") || name.contains("layer_norm")) {
            if (name.endsWith(".weight")) {
                java.util.Arrays.fill(v, 1f);
            }
            return v;
        }
        if (name.endsWith(".bias")) {
            return v;
        }
        SplittableRandom r = new SplittableRandom(seed);
        double bound = 0.02 * Math.sqrt(3); // uniform with the standard deviation of HF's N(0, 0.02) init
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        }
        return v;
    }
}
