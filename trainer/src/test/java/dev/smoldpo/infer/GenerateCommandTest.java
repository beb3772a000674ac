package dev.smoldpo.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.GenerateCommand;
import dev.smoldpo.data.DemoDataset;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The generate subcommand: output and exit codes, and the messages for bad inputs. */
class GenerateCommandTest {
    @TempDir
    static Path tmp;
    static DemoDeployment demo;
    static Path image;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void setUp() throws Exception {
        demo = DemoDeployment.get();
        image = Files.write(tmp.resolve("shape.png"), DemoDeployment.png(48, 40, 9));
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new GenerateCommand());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void generatesFromADeploymentFolder() {
        Run r = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--max-new-tokens", "8", "--threads", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("stopped:"), r.err());
        Run again = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--max-new-tokens", "8", "--greedy");
        assertEquals(r.out(), again.out(), "greedy by default");
        Run sampled = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--max-new-tokens", "8", "--temperature", "1.3", "--top-p", "0.95", "--top-k", "50", "--seed", "3");
        assertEquals(0, sampled.code(), sampled.err());
        assertEquals(sampled.out(), run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt",
                "What colour is the shape?", "--max-new-tokens", "8", "--temperature", "1.3", "--top-p", "0.95",
                "--top-k", "50", "--seed", "3").out());
        Run two = run("--model", demo.deploy.toString(), "--image", image.toString(), "--image", image.toString(),
                "--prompt", "Same?", "--max-new-tokens", "3");
        assertEquals(0, two.code(), two.err());
        // a seed alone does not turn sampling on; --greedy with a sampling option is a contradiction
        Run seeded = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--max-new-tokens", "8", "--seed", "5");
        assertEquals(r.out(), seeded.out(), "still greedy");
        assertTrue(seeded.err().contains("--seed has no effect on greedy decoding"), seeded.err());
        Run both = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--greedy", "--temperature", "0.7");
        assertEquals(1, both.code());
        assertTrue(both.err().contains("--greedy takes the most likely token"), both.err());
    }

    @Test
    void artifactsWithACheckpointAreExportedFirst() throws Exception {
        Path checkpointDir = Files.createDirectories(tmp.resolve("run/checkpoint-3"));
        Files.copy(demo.artifacts.checkpoint(), checkpointDir.resolve("ort_checkpoint"));
        Path export = tmp.resolve("exported");
        Run r = run("--artifacts", demo.artifacts.dir().toString(), "--checkpoint", checkpointDir.toString(),
                "--export-dir", export.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--max-new-tokens", "8");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(export.resolve(Generator.DECODER)));
        // the export's own checkpoint has B = 0: the same model as the base deployment
        Run base = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "What colour is the shape?",
                "--max-new-tokens", "8");
        assertEquals(base.out(), r.out());
        Run file = run("--artifacts", demo.artifacts.dir().toString(), "--checkpoint",
                checkpointDir.resolve("ort_checkpoint").toString(), "--export-dir", tmp.resolve("exported2").toString(),
                "--image", image.toString(), "--prompt", "What colour is the shape?", "--max-new-tokens", "8");
        assertEquals(base.out(), file.out());
        Run missing = run("--artifacts", demo.artifacts.dir().toString(), "--checkpoint", tmp.resolve("nope").toString(),
                "--prompt", "hi");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("does not exist"), missing.err());
    }

    @Test
    void datasetExampleIsShownBesideTheGeneratedAnswer() {
        Path data = DemoDataset.write(tmp.resolve("pairs.parquet"), 4, 1, false);
        Run r = run("--model", demo.deploy.toString(), "--dataset", data.toString(), "--index", "2", "--max-new-tokens", "6");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n");
        assertTrue(lines[0].startsWith("question:  " + DemoDataset.QUESTION), r.out());
        assertTrue(lines[1].startsWith("chosen:    "), r.out());
        assertTrue(lines[2].startsWith("rejected:  "), r.out());
        assertTrue(lines[3].startsWith("generated: "), r.out());
        Run outside = run("--model", demo.deploy.toString(), "--dataset", data.toString(), "--index", "4");
        assertEquals(1, outside.code());
        assertTrue(outside.err().contains("--index 4"), outside.err());
    }

    @Test
    void missingImageFile() {
        Path missing = tmp.resolve("no-such.png");
        Run r = run("--model", demo.deploy.toString(), "--image", missing.toString(), "--prompt", "hi");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("error: image file " + missing + " does not exist"), r.err());
    }

    @Test
    void unreadableImage() throws Exception {
        Path bad = Files.write(tmp.resolve("bad.png"), "this is not an image".getBytes());
        Run r = run("--model", demo.deploy.toString(), "--image", bad.toString(), "--prompt", "hi");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("cannot read image " + bad), r.err());
        byte[] png = DemoDeployment.png(16, 16, 1);
        Path truncated = Files.write(tmp.resolve("truncated.png"), java.util.Arrays.copyOf(png, 60));
        Run t = run("--model", demo.deploy.toString(), "--image", truncated.toString(), "--prompt", "hi");
        assertEquals(1, t.code());
        assertTrue(t.err().contains("cannot read image " + truncated), t.err());
    }

    @Test
    void promptLongerThanMaxPositions() {
        Run r = run("--model", demo.deploy.toString(), "--image", image.toString(), "--prompt", "red blue ".repeat(2100));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("longer than text_config.max_position_embeddings 2048"), r.err());
    }

    @Test
    void folderWithoutOnnxFiles() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("no-onnx"));
        Files.copy(demo.deploy.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(demo.deploy.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.createDirectories(dir.resolve("onnx"));
        Files.copy(demo.deploy.resolve(Generator.EMBED_TOKENS), dir.resolve(Generator.EMBED_TOKENS));
        Run r = run("--model", dir.toString(), "--prompt", "hi");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is missing onnx/vision_encoder.onnx, onnx/decoder_model_merged.onnx"), r.err());
    }

    @Test
    void folderWithoutConfig() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        Run r = run("--model", dir.toString(), "--prompt", "hi");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("has no config.json"), r.err());
        Run none = run("--model", tmp.resolve("absent").toString(), "--prompt", "hi");
        assertEquals(1, none.code());
        assertTrue(none.err().contains("does not exist"), none.err());
    }

    @Test
    void badOptions() {
        assertTrue(run("--model", demo.deploy.toString()).err().contains("--prompt"));
        Run both = run("--model", demo.deploy.toString(), "--artifacts", "x", "--prompt", "hi");
        assertEquals(1, both.code());
        Run device = run("--model", demo.deploy.toString(), "--prompt", "hi", "--device", "tpu");
        assertTrue(device.err().contains("--device must be cpu or cuda"), device.err());
        Run topP = run("--model", demo.deploy.toString(), "--prompt", "hi", "--top-p", "0");
        assertEquals(1, topP.code());
        assertTrue(topP.err().contains("top_p"), topP.err());
    }
}
