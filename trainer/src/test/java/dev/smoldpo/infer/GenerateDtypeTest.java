package dev.smoldpo.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.export.deploy.DeploymentExporter;
import dev.smoldpo.export.deploy.DeploymentVariants;
import dev.smoldpo.onnx.quant.DeploymentDtype;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** generate --dtype: which files of a deployment folder it loads (and says so), as transformers.js' dtype option picks them. */
class GenerateDtypeTest {
    @TempDir
    static Path tmp;
    static DemoDeployment demo;
    static Path variants;
    static Path image;

    @BeforeAll
    static void export() throws Exception {
        demo = DemoDeployment.get();
        variants = DeploymentExporter.export(demo.artifacts.dir(), null, tmp.resolve("variants"), null,
                new DeploymentVariants(EnumSet.allOf(DeploymentDtype.class), 32));
        image = Files.write(tmp.resolve("shape.png"), DemoDeployment.png(48, 40, 9));
    }

    static GenerateCommandTest.Run generate(Path model, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("--model", model.toString(), "--image", image.toString(), "--prompt",
                "What colour is the shape?", "--max-new-tokens", "6", "--threads", "2"));
        args.addAll(List.of(extra));
        return GenerateCommandTest.run(args.toArray(String[]::new));
    }

    @Test
    void oneDtypeForEveryGraphLoadsItsSuffixedFiles() {
        GenerateCommandTest.Run fp32 = generate(variants);
        assertEquals(0, fp32.code(), fp32.err());
        assertTrue(fp32.err().contains("loaded (fp32): onnx/vision_encoder.onnx, onnx/embed_tokens.onnx, "
                + "onnx/decoder_model_merged.onnx"), fp32.err());
        for (DeploymentDtype p : DeploymentDtype.values()) {
            GenerateCommandTest.Run r = generate(variants, "--dtype", p.id());
            assertEquals(0, r.code(), p + ": " + r.err());
            String s = p.suffix();
            assertTrue(r.err().contains("loaded (" + p.id() + "): onnx/vision_encoder" + s + ".onnx, onnx/embed_tokens" + s
                    + ".onnx, onnx/decoder_model_merged" + s + ".onnx"), r.err());
            assertTrue(r.out().length() > 0, p + " generated nothing");
        }
    }

    @Test
    void aPerGraphMapMixesFilesAndLeavesTheRestFloat32() {
        GenerateCommandTest.Run r = generate(variants, "--dtype", "decoder_model_merged=q4f16,embed_tokens=q8");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("loaded (vision_encoder=fp32,embed_tokens=q8,decoder_model_merged=q4f16): "
                + "onnx/vision_encoder.onnx, onnx/embed_tokens_quantized.onnx, onnx/decoder_model_merged_q4f16.onnx"), r.err());
    }

    @Test
    void badDtypesAndMissingFilesAreNamed() {
        GenerateCommandTest.Run unknown = generate(variants, "--dtype", "q5");
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("--dtype: unknown dtype 'q5' (known: fp32, fp16, q8, q4, q4f16)"), unknown.err());
        GenerateCommandTest.Run graph = generate(variants, "--dtype", "decoder=q4");
        assertEquals(1, graph.code());
        assertTrue(graph.err().contains("unknown graph 'decoder'"), graph.err());
        // the plain demo folder has float32 files only
        GenerateCommandTest.Run missing = generate(demo.deploy, "--dtype", "q4");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("is missing onnx/vision_encoder_q4.onnx, onnx/embed_tokens_q4.onnx, "
                + "onnx/decoder_model_merged_q4.onnx for --dtype q4 (the folder has vision_encoder in fp32; embed_tokens in fp32; "
                + "decoder_model_merged in fp32;"),
                missing.err());
    }

    @Test
    void artifactsAreExportedInTheAskedDtypeKeepingTheOnesAlreadyThere() throws Exception {
        Path checkpointDir = Files.createDirectories(tmp.resolve("run/checkpoint-3"));
        Files.copy(demo.artifacts.checkpoint(), checkpointDir.resolve("ort_checkpoint"));
        Path export = tmp.resolve("exported");
        GenerateCommandTest.Run r = GenerateCommandTest.run("--artifacts", demo.artifacts.dir().toString(), "--checkpoint",
                checkpointDir.toString(), "--export-dir", export.toString(), "--image", image.toString(), "--prompt", "Colour?",
                "--max-new-tokens", "4", "--dtype", "q4");
        assertEquals(0, r.code(), r.err());
        for (String g : GraphDtypes.GRAPHS) {
            assertTrue(Files.isRegularFile(export.resolve("onnx/" + g + "_q4.onnx")), g + " q4 exported");
        }
        assertEquals(Set.of(DeploymentDtype.Q4), Set.copyOf(GraphDtypes.available(export, GraphDtypes.DECODER)),
                "only the asked dtype is exported into a fresh folder");
        // config.json's transformers.js_config.dtype names the exported dtype: it is the default
        GenerateCommandTest.Run byDefault = generate(export);
        assertEquals(0, byDefault.code(), byDefault.err());
        assertTrue(byDefault.err().contains("loaded (q4): "), byDefault.err());
        GenerateCommandTest.Run fp32 = generate(export, "--dtype", "fp32");
        assertEquals(1, fp32.code(), "no float32 files were exported: " + fp32.err());
    }
}
