package dev.smoldpo.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.artifacts.Manifest;
import dev.smoldpo.artifacts.checkpoint.Checkpoint;
import dev.smoldpo.artifacts.checkpoint.CheckpointReader;
import dev.smoldpo.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI as a user runs it: export-artifacts, then fit, on the built-in toy model. */
class ToyCliEndToEndTest {
    @TempDir
    Path dir;

    @Test
    void exportThenFitLowersTheLossAndSavesACheckpoint() {
        Path artifacts = dir.resolve("toy");
        assertEquals(0, Main.run("export-artifacts", "--toy", "--out", artifacts.toString()));
        Manifest manifest = Manifest.read(artifacts.resolve("manifest.json"));
        assertEquals(4, manifest.parameters().size());
        assertEquals("loss", manifest.outputs().get(0).name());

        String out = captureStdout(() -> assertEquals(0, Main.run("fit", "--toy", "--artifacts", artifacts.toString(),
                "--max-steps", "150", "--logging-steps", "50", "--threads", "1")));
        Matcher m = Pattern.compile("eval_loss ([0-9.]+) -> ([0-9.]+)").matcher(out);
        assertTrue(m.find(), out);
        double before = Double.parseDouble(m.group(1));
        double after = Double.parseDouble(m.group(2));
        assertTrue(after * 10 < before, "fit must lower the loss 10x: " + out);
        Checkpoint trained = CheckpointReader.read(artifacts.resolve("trained_checkpoint"));
        assertEquals(4, trained.trainable().size());
        assertTrue(trained.optimizerGroups().size() == 1, "optimizer state saved");
    }

    @Test
    void badArgumentsFailWithAClearMessageAndNonZeroExit() {
        String err = captureStderr(() -> assertEquals(1, Main.run("fit", "--toy", "--artifacts", dir.resolve("missing").toString())));
        assertTrue(err.contains("manifest.json missing"), err);
        assertTrue(Files.notExists(dir.resolve("missing")));
        String unknown = captureStderr(() -> assertEquals(1, Main.run("fit", "--no-such-option", "3")));
        assertTrue(unknown.contains("unknown key 'no_such_option'"), unknown);
    }

    private static String captureStdout(Runnable r) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        System.out.print(buf);
        return buf.toString();
    }

    private static String captureStderr(Runnable r) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            r.run();
        } finally {
            System.setErr(old);
        }
        return buf.toString();
    }
}
