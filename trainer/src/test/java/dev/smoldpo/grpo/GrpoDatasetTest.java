package dev.smoldpo.grpo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import dev.smoldpo.data.DemoDataset;
import dev.smoldpo.grpo.sampling.EncodedPrompt;
import dev.smoldpo.hf.ModelConfig;
import dev.smoldpo.nativelib.Device;
import dev.smoldpo.processor.SmolVlmProcessor;
import dev.smoldpo.testing.Captured;
import dev.smoldpo.train.support.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code grpo --dataset prompts.jsonl}: a user's prompts, images and answers, and the errors a bad line gets. */
class GrpoDatasetTest {
    @TempDir
    static Path root;
    static Path artifacts;

    @BeforeAll
    static void export() {
        artifacts = root.resolve("artifacts");
        assertEquals(0, Main.run("export-artifacts", "--loss", "grpo", "--out", artifacts.toString()));
    }

    /** {@code n} demo images saved as PNG files beside a JSONL of prompt, image, answer (and an extra field). */
    private static Path dataset(String name, int n) throws Exception {
        Path dir = Files.createDirectories(root.resolve(name));
        Files.createDirectories(dir.resolve("img"));
        List<String> lines = new ArrayList<>();
        List<DemoDataset.Pair> items = DemoDataset.generate(n, 3, false);
        for (int i = 0; i < n; i++) {
            Files.write(dir.resolve("img").resolve(i + ".png"), items.get(i).png());
            lines.add("{\"prompt\": \"" + DemoDataset.QUESTION + "\", \"image\": \"img/" + i + ".png\", \"answer\": \""
                    + items.get(i).colour() + "\", \"id\": " + i + "}");
        }
        return Files.write(dir.resolve("prompts.jsonl"), lines);
    }

    private static String[] run(Path data, Path out) {
        return new String[] {"grpo", "--dataset", data.toString(), "--artifacts-dir", artifacts.toString(), "--output-dir",
                out.toString(), "--max-steps", "2", "--num-generations", "4", "--per-device-train-batch-size", "8",
                "--eval-samples", "4", "--eval-steps", "0", "--logging-steps", "1", "--image-longest-edge", "32",
                "--answer-prefix", "It is", "--reward-funcs", "normalised_match", "--max-completion-length", "1"};
    }

    @Test
    void aUserDatasetTrainsAndItsHeldOutLinesAreEvaluated() throws Exception {
        Path out = root.resolve("run");
        assertEquals(0, Main.run(run(dataset("good", 12), out)));
        List<MetricsLog.Record> records = MetricsLog.read(out.resolve(MetricsLog.FILE_NAME));
        assertTrue(records.stream().anyMatch(r -> r.step() == 2 && r.has("reward")), "step 2 was trained and logged");
        assertTrue(records.stream().filter(r -> r.has("eval_accuracy")).count() >= 2, "held-out accuracy before and after");
        assertTrue(Files.isDirectory(out.resolve("checkpoint-2")), "the final checkpoint");
    }

    /**
     * The image forms the preference JSONL takes (JsonlImages): the same PNG by path, as plain base64 in
     * {@code image} and in {@code images}, as a data: URI and as {@code {"bytes": base64}} encodes to the same
     * prompt; a string that is none of these names the line and says so.
     */
    @Test
    void imagesAsBase64OrDataUrisEncodeAsTheirFile() throws Exception {
        Path data = dataset("forms", 1);
        byte[] png = Files.readAllBytes(data.resolveSibling("img").resolve("0.png"));
        String b64 = Base64.getEncoder().encodeToString(png);
        String q = "{\"prompt\": \"" + DemoDataset.QUESTION + "\", \"answer\": \"red\", ";
        Files.write(data, List.of(q + "\"image\": \"img/0.png\"}", q + "\"image\": \"" + b64 + "\"}",
                q + "\"images\": [\"" + b64 + "\"]}", q + "\"image\": \"data:image/png;base64," + b64 + "\"}",
                q + "\"images\": [{\"bytes\": \"" + b64 + "\"}]}"));
        ModelConfig model = ModelConfig.load(artifacts);
        try (SmolVlmProcessor processor = SmolVlmProcessor.load(artifacts, model, 32, Device.CPU)) {
            List<GrpoPrompt> prompts = GrpoDataset.load(data, processor, "It is", 0).get(0);
            assertEquals(5, prompts.size());
            EncodedPrompt byPath = prompts.get(0).encoded();
            assertTrue(byPath.image().count() > 0, "the image reached the prompt");
            for (GrpoPrompt p : prompts.subList(1, 5)) {
                assertArrayEquals(byPath.inputIds(), p.encoded().inputIds(), p.row().toString());
                assertArrayEquals(byPath.image().pixels(), p.encoded().image().pixels(), p.row().toString());
            }

            // a line without an answer, when every reward compares with one: named, not scored 0 in silence
            Files.write(data, List.of(q + "\"image\": \"img/0.png\"}",
                    "{\"prompt\": \"" + DemoDataset.QUESTION + "\", \"image\": \"img/0.png\"}"));
            assertEquals(2, GrpoDataset.load(data, processor, "It is", 0).get(0).size(), "fine for cmd: and format: rewards");
            IllegalArgumentException noAnswer = assertThrows(IllegalArgumentException.class,
                    () -> GrpoDataset.load(data, processor, "It is", 0, true));
            assertTrue(noAnswer.getMessage().contains("prompts.jsonl line 2: no \"answer\", which every reward in reward_funcs"),
                    noAnswer.getMessage());

            Files.write(data, List.of(q + "\"image\": \"img/0.png\"}", q + "\"image\": \"no such thing\"}"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GrpoDataset.load(data, processor, "It is", 0));
            assertTrue(e.getMessage().contains("prompts.jsonl line 2: image 1 \"no such thing\" is not a file, data: URI or base64 image"),
                    e.getMessage());
        }
    }

    @Test
    void badLinesAreNamedWithTheirLineNumber() throws Exception {
        Path data = dataset("bad", 6);
        List<String> lines = new ArrayList<>(Files.readAllLines(data));
        lines.set(2, "{\"question\": \"no prompt field\", \"image\": \"img/2.png\", \"answer\": \"red\"}");
        Files.write(data, lines);
        Captured c = Captured.run(() -> Main.run(run(data, root.resolve("bad-run"))));
        assertNotEquals(0, c.code());
        assertTrue(c.err().contains("prompts.jsonl line 3: no \"prompt\" text (fields: question, image, answer)"), c.err());

        lines.set(2, "{\"prompt\": \"What colour?\", \"image\": \"img/missing.png\", \"answer\": \"red\"}");
        Files.write(data, lines);
        c = Captured.run(() -> Main.run(run(data, root.resolve("bad-run-2"))));
        assertTrue(c.err().contains("line 3: image") && c.err().contains("missing.png not found"), c.err());

        Path small = dataset("small", 4);
        c = Captured.run(() -> Main.run(run(small, root.resolve("small-run"))));
        assertTrue(c.err().contains("has 4 prompts; eval_samples (4) are held out"), c.err());
    }
}
