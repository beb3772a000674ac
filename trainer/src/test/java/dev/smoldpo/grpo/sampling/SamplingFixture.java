package dev.smoldpo.grpo.sampling;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.artifacts.checkpoint.CheckpointTensor;
import dev.smoldpo.artifacts.checkpoint.CheckpointWriter;
import dev.smoldpo.data.text.ChatMessage;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import dev.smoldpo.nativelib.DecodedImage;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.processor.SmolVlmProcessor;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/** The demo model's artifacts (vision and text adapters), a prompt with an image, and adapters with random B. */
final class SamplingFixture {
    final ArtifactFiles artifacts;
    final ModelConfig config;
    final EncodedPrompt prompt;

    SamplingFixture(Path root) throws IOException {
        Path model = DemoModel.write(root.resolve("model"), 42);
        artifacts = SmolVlmExporter.export(model, root.resolve("artifacts"), new SmolVlmExporter.Options("demo",
                new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false), DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3));
        config = ModelConfig.load(artifacts.dir());
        try (SmolVlmProcessor processor = SmolVlmProcessor.load(artifacts.dir(), config, 0, Device.CPU)) {
            prompt = EncodedPrompt.encode(processor, List.of(ChatMessage.user("What colour is the shape?", 1)),
                    List.of(DecodedImage.decode(png(40, 30, 5))));
        }
    }

    /** The export's initial adapters (B = 0) with every B drawn from U(-scale, scale). */
    Map<String, float[]> randomB(long seed, double scale) {
        Checkpoint initial = CheckpointReader.read(artifacts.checkpoint());
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        initial.trainableFloats().forEach((name, v) -> {
            if (name.endsWith("lora_B.weight")) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
                }
            }
            out.put(name, v);
        });
        return out;
    }

    /** {@code values} written as an ORT checkpoint (trainable parameters only). */
    Path checkpoint(Map<String, float[]> values, Path file) {
        Checkpoint initial = CheckpointReader.read(artifacts.checkpoint());
        List<CheckpointTensor> tensors = new ArrayList<>();
        for (CheckpointTensor t : initial.trainable()) {
            tensors.add(CheckpointTensor.ofFloats(t.name(), t.dims(), values.get(t.name())));
        }
        CheckpointWriter.write(Checkpoint.of(tensors, initial.frozen()), file);
        return file;
    }

    static byte[] png(int width, int height, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, r.nextInt(0x1000000));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }
}
