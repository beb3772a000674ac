package dev.smoldpo.infer;

import dev.smoldpo.artifacts.AdamWConfig;
import dev.smoldpo.artifacts.ArtifactFiles;
import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.model.demo.DemoModel;
import dev.smoldpo.model.lora.LoraConfig;
import dev.smoldpo.model.smolvlm.DpoConfig;
import dev.smoldpo.model.smolvlm.SmolVlmExporter;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/** The demo model (seed 42), its artifacts and its deployment folder, built once per test JVM. */
final class DemoDeployment {
    final Path root;
    final Path model;
    final ArtifactFiles artifacts;
    final Path deploy;

    private static DemoDeployment instance;

    private DemoDeployment(Path root) throws IOException {
        this.root = root;
        this.model = DemoModel.write(root.resolve("model"), 42);
        this.artifacts = SmolVlmExporter.export(model, root.resolve("artifacts"), options());
        this.deploy = DeploymentExporter.export(artifacts.dir(), null, root.resolve("deploy"));
    }

    static SmolVlmExporter.Options options() {
        return new SmolVlmExporter.Options("demo", new LoraConfig(4, 8, 0, LoraConfig.DEFAULT_TARGETS, false),
                DpoConfig.DEFAULT, AdamWConfig.DEFAULT, 3);
    }

    static synchronized DemoDeployment get() throws IOException {
        if (instance == null) {
            Path root = Files.createTempDirectory("smoldpo-infer-");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(root)));
            instance = new DemoDeployment(root);
        }
        return instance;
    }

    /** A PNG of random coloured blocks. */
    static byte[] png(int width, int height, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int block = (x / 8) * 31 + (y / 8) * 17;
                img.setRGB(x, y, (int) (new SplittableRandom(seed * 1000 + block).nextInt(0x1000000) ^ r.nextInt(16)));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temporary files
        }
    }
}
