package dev.smoldpo.grpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.cli.Main;
import dev.smoldpo.testing.Captured;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code grpo}'s device setting, as fit's: half-precision artifacts are refused on the CPU with the
 * reason, CUDA without a GPU build fails naming what is missing, both before the run folder is made,
 * and an unknown device is named with its source. {@code --artifacts} is fit's name for artifacts_dir, and
 * a flag without a value is an error unless its key is boolean.
 */
class GrpoCommandLineTest {
    @TempDir
    static Path root;
    static Path fp32;
    static Path bf16;

    @BeforeAll
    static void export() throws Exception {
        fp32 = root.resolve("fp32");
        bf16 = root.resolve("bf16");
        assertEquals(0, Main.run("export-artifacts", "--loss", "grpo", "--out", fp32.toString()));
        assertEquals(0, Main.run("export-artifacts", "--loss", "grpo", "--precision", "bf16", "--out", bf16.toString()));
    }

    private static Captured grpo(Path out, String... more) throws Exception {
        String[] args = new String[more.length + 7];
        System.arraycopy(new String[] {"grpo", "--output-dir", out.toString(), "--max-steps", "1", "--beta", "0"}, 0, args, 0, 7);
        System.arraycopy(more, 0, args, 7, more.length);
        return Captured.run(() -> Main.run(args));
    }

    @Test
    void halfPrecisionArtifactsAreRefusedOnTheCpuBeforeTheRunFolder() throws Exception {
        Path out = root.resolve("bf16-on-cpu");
        // --artifacts (fit's flag) reaches artifacts_dir: the error names the bf16 folder
        Captured run = grpo(out, "--artifacts", bf16.toString());
        assertEquals(1, run.code());
        assertTrue(run.err().contains("the artifacts in " + bf16 + " were exported with precision bf16, which is for device cuda")
                && run.err().contains("no bf16 MatMul kernel") && run.err().contains("--precision fp32"), run.err());
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void cudaWithoutAGpuBuildFailsClearlyBeforeTheRunFolder() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.smoldpo.nativelib.Device.CUDA.isAvailable(), "this machine has a GPU");
        Path out = root.resolve("cuda");
        Captured run = grpo(out, "--artifacts-dir", fp32.toString(), "--device", "cuda");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("--device cuda: ONNX Runtime's CUDA execution provider is not available"), run.err());
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void anUnknownDeviceIsNamedWithItsSource() throws Exception {
        Captured run = grpo(root.resolve("gpu"), "--artifacts-dir", fp32.toString(), "--device", "gpu");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("command line (--device): device must be cpu or cuda, got 'gpu'"), run.err());
    }

    @Test
    void aFlagWithoutAValueIsNamed() throws Exception {
        Captured run = grpo(root.resolve("no-value"), "--artifacts-dir", fp32.toString(), "--answer-prefix");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("command line (--answer-prefix): --answer-prefix needs a value (String)"), run.err());
    }

    @Test
    void aMisspeltKeyGetsASuggestion() throws Exception {
        Captured run = grpo(root.resolve("typo"), "--artifacts-dir", fp32.toString(), "--num-generation", "4");
        assertEquals(1, run.code());
        assertTrue(run.err().contains("unknown key 'num_generation' in command line (did you mean 'num_generations'?)"), run.err());
    }

    @Test
    void aMissingArtifactsFolderIsAnErrorNotADemoExport() throws Exception {
        Path typo = root.resolve("my-typo-model");
        // with a dataset (not the demo), whose file is not read before the artifacts are found
        Captured run = grpo(root.resolve("typo-run"), "--artifacts", typo.toString(), "--dataset",
                root.resolve("prompts.jsonl").toString());
        assertEquals(1, run.code());
        assertTrue(run.err().contains("no artifacts in " + typo + " (manifest.json missing; artifacts_dir from command line"),
                run.err());
        assertFalse(Files.exists(typo), "the demo model was not exported there");
    }

    @Test
    void valuesOutOfRangeAreNamedInTheSettingsTerms() throws Exception {
        Captured one = grpo(root.resolve("g1"), "--artifacts-dir", fp32.toString(), "--num-generations", "1");
        assertEquals(1, one.code());
        assertTrue(one.err().contains("num_generations must be at least 2, got 1"), one.err());
        Captured loss = grpo(root.resolve("sigmoid"), "--artifacts-dir", fp32.toString(), "--loss-type", "sigmoid");
        assertEquals(1, loss.code());
        assertTrue(loss.err().contains("unknown loss_type 'sigmoid'") && !loss.err().contains("Cannot construct"), loss.err());
    }

    @Test
    void rewardsSharingANameGetNumberedMetrics() {
        List<String> names = GrpoMetrics.metricNames(List.of(dev.smoldpo.grpo.reward.AnswerRewards.format("a.*"),
                dev.smoldpo.grpo.reward.AnswerRewards.exactMatch("answer"), dev.smoldpo.grpo.reward.AnswerRewards.format("b.*")));
        assertEquals(List.of("format_1", "exact_match", "format_2"), names);
    }

    @Test
    void artifactsAndArtifactsDirTogetherAreRefused() throws Exception {
        Captured run = grpo(root.resolve("both"), "--artifacts", fp32.toString(), "--artifacts-dir", bf16.toString());
        assertEquals(1, run.code());
        assertTrue(run.err().contains("--artifacts and --artifacts-dir name the same setting"), run.err());
    }
}
