package dev.smoldpo.train.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The output folder of a {@code fit} run, held for the run's whole life:
 * <ul>
 *   <li>one run at a time: a lock file ({@value #LOCK_FILE}) that a second fit into the same folder
 *       finds taken, and names the process holding it;</li>
 *   <li>one history per folder: a folder that already holds a run (checkpoints, or metrics logged after
 *       step 0) is resumed ({@code --resume}), started over ({@code --overwrite-output-dir}, which
 *       deletes the previous run's files and nothing else), or refused.</li>
 * </ul>
 */
public final class RunFolder implements AutoCloseable {
    public static final String LOCK_FILE = ".fit.lock";
    /** What a run writes at the top of its folder (besides checkpoint folders), deleted by an overwrite. */
    static final List<String> RUN_FILES = List.of(MetricsLog.FILE_NAME, "train_config.json", "summary.json",
            "optimizer_model.onnx", MetricsPlots.LOSS, MetricsPlots.ACCURACIES, MetricsPlots.MARGINS);

    private final Path dir;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private RunFolder(Path dir, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Takes the folder for a run.
     *
     * @param resuming  the run continues from a checkpoint: an earlier run in the folder is expected
     * @param overwrite an earlier run's files are deleted first
     * @throws IllegalStateException when another process holds the folder, or it holds a run and neither
     *                               flag says what to do with it
     */
    public static RunFolder open(Path dir, boolean resuming, boolean overwrite) throws IOException {
        Files.createDirectories(dir);
        Path lockFile = dir.resolve(LOCK_FILE);
        FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this very process (another fit in the same JVM)
        }
        if (lock == null) {
            String holder = readHolder(lockFile);
            channel.close();
            throw new IllegalStateException(dir + " is in use by another fit" + (holder.isEmpty() ? "" : " (" + holder + ")")
                    + ": wait for it to end, or choose another --output-dir");
        }
        RunFolder folder = new RunFolder(dir, channel, lock);
        try {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            List<String> previous = previousRun(dir);
            if (!previous.isEmpty() && !resuming) {
                if (!overwrite) {
                    boolean resumable = !checkpointDirs(dir).isEmpty();
                    throw new IllegalStateException(dir + " already holds a run (" + String.join(", ", previous) + "): "
                            + (resumable ? "pass --resume to continue it, " : "it has no checkpoint to resume from: pass ")
                            + "--overwrite-output-dir to start over (deleting it), or choose another --output-dir");
                }
                deletePreviousRun(dir);
            }
        } catch (IOException | RuntimeException e) {
            folder.close();
            throw e;
        }
        return folder;
    }

    public Path dir() {
        return dir;
    }

    /**
     * What an earlier run left in {@code dir}: its checkpoint folders and logged metrics; empty when none.
     * Metrics count when they go beyond step 0: a run stopped (or killed) before its first step leaves at
     * most the evaluation before training, of adapters nothing has changed, which a new run may replace.
     */
    public static List<String> previousRun(Path dir) throws IOException {
        List<String> found = new ArrayList<>();
        for (Path checkpoint : checkpointDirs(dir)) {
            found.add(checkpoint.getFileName().toString());
        }
        Path metrics = dir.resolve(MetricsLog.FILE_NAME);
        if (Files.isRegularFile(metrics) && Files.size(metrics) > 0) {
            List<MetricsLog.Record> records = MetricsLog.read(metrics);
            boolean beforeFirstStepOnly = records.stream().allMatch(r -> r.has(MetricsLog.STEP) && r.step() == 0);
            if (!found.isEmpty() || !beforeFirstStepOnly) {
                found.add(MetricsLog.FILE_NAME + " with " + records.size() + " records");
            }
        }
        return found;
    }

    private static void deletePreviousRun(Path dir) throws IOException {
        for (Path checkpoint : checkpointDirs(dir)) {
            RunCheckpoints.deleteTree(checkpoint);
        }
        for (String name : RUN_FILES) {
            Files.deleteIfExists(dir.resolve(name));
        }
    }

    private static List<Path> checkpointDirs(Path dir) throws IOException {
        List<Path> dirs = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, RunCheckpoints.PREFIX + "*")) {
            for (Path p : s) {
                if (Files.isDirectory(p) && RunCheckpoints.stepOf(p).isPresent()) {
                    dirs.add(p);
                }
            }
        }
        dirs.sort(null);
        return dirs;
    }

    private static String readHolder(Path lockFile) {
        try {
            return Files.readString(lockFile, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** Releases the folder (the lock file stays: deleting it could let two runs lock different files). */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            lockChannel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
