package dev.smoldpo.runtime;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@link PlacementCheck} of one inference session: its first run is profiled, then profiling
 * ends and the check judges where ORT ran each node. Later runs are not profiled.
 *
 * <p>Usage: {@code arm} on the session options right before creating the session (ORT copies the
 * options at creation, so options shared by several sessions can be armed once per session), then
 * {@code afterRun(session)} after each run (it does its work once), and {@code discard()} after
 * closing the session.
 */
public final class FirstRunProfile {
    private final PlacementCheck check;
    private final String label;
    private final Path dir;
    private boolean pending;

    private FirstRunProfile(PlacementCheck check, String label, Path dir) {
        this.check = check;
        this.label = label;
        this.dir = dir;
        this.pending = dir != null;
    }

    /** Turns profiling on in {@code options} for the next session created with them, when the check is active. */
    public static FirstRunProfile arm(PlacementCheck check, OrtSession.SessionOptions options, String label) throws OrtException {
        if (!check.active()) {
            return new FirstRunProfile(check, label, null);
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("smoldpo-placement-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a folder for the ONNX Runtime profile of " + label, e);
        }
        options.enableProfiling(dir.resolve("profile").toString());
        return new FirstRunProfile(check, label, dir);
    }

    /** After a run of {@code session}: the first time, ends its profiling and applies the check. */
    public void afterRun(OrtSession session) throws OrtException {
        if (!pending) {
            return;
        }
        pending = false;
        try {
            List<ProfiledNode> nodes = ProfileReader.read(Path.of(session.endProfiling()));
            check.verify(Map.of(label, nodes), System.err);
        } finally {
            deleteTree(dir);
        }
    }

    /** Drops the profile of a session that closes before it ever ran (ORT writes it at close). */
    public void discard() {
        pending = false;
        if (dir != null) {
            deleteTree(dir);
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("warning: could not delete " + dir + " (" + e.getMessage() + ")");
        }
    }
}
