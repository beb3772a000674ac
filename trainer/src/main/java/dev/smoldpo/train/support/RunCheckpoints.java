package dev.smoldpo.train.support;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The run-level checkpoints of {@code fit} in the output folder, HF Trainer style:
 * {@code checkpoint-<step>/} holding the ORT training checkpoint ({@value #ORT_FILE}, written by the
 * caller, e.g. {@code session.saveCheckpoint(path, true)}, plus any side file ORT adds next to it),
 * {@value #STATE_FILE} ({@link RunState}) and, for fit, {@value #CONFIG_FILE}: the settings the
 * checkpoint was trained with, since the run folder's copy is rewritten by every resumed session (a
 * resume names the keys that changed from it; checkpoints from before it was saved still load).
 *
 * <p>A save is atomic: everything is written into a hidden temporary folder in the output folder, then
 * the folder is renamed to {@code checkpoint-<step>}; a crash leaves either the complete checkpoint or
 * none (stale temporary folders are removed by the next save). After a successful save the oldest
 * checkpoints are deleted until at most {@code save_total_limit} remain, never the newest nor the one at
 * {@link RunState#bestStep()} (so, as in HF, a limit of 1 keeps two when the best is not the newest).
 */
public final class RunCheckpoints {
    public static final String PREFIX = "checkpoint-";
    public static final String STATE_FILE = "trainer_state.json";
    public static final String ORT_FILE = "ort_checkpoint";
    public static final String CONFIG_FILE = "train_config.json";
    /** The {@code format} field of {@value #STATE_FILE}. */
    public static final String FORMAT = "smoldpo.trainer_state.v1";

    private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "(\\d+)");
    private static final String TEMP_PREFIX = ".tmp-" + PREFIX;
    private static final String OLD_PREFIX = ".old-" + PREFIX;

    /** Writes ORT's checkpoint at the given path (a file path inside the new checkpoint folder). */
    @FunctionalInterface
    public interface OrtCheckpointWriter {
        void write(Path ortCheckpoint) throws Exception;
    }

    /** A checkpoint read back: its folder, step and state. */
    public record Saved(Path dir, long step, RunState state) {
        /** The ORT checkpoint to open a training session with. */
        public Path ortCheckpoint() {
            return dir.resolve(ORT_FILE);
        }

        /** The settings saved with the checkpoint ({@value #CONFIG_FILE}); empty for checkpoints that predate them. */
        public Optional<Path> config() {
            Path file = dir.resolve(CONFIG_FILE);
            return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
        }
    }

    private final Path outputDir;
    private final Integer saveTotalLimit;
    private final String configJson;

    /** @param saveTotalLimit checkpoints to keep, null = all */
    public RunCheckpoints(Path outputDir, Integer saveTotalLimit) {
        this(outputDir, saveTotalLimit, null);
    }

    /**
     * @param saveTotalLimit checkpoints to keep, null = all
     * @param configJson     the settings to save in every checkpoint as {@value #CONFIG_FILE}, null for none
     */
    public RunCheckpoints(Path outputDir, Integer saveTotalLimit, String configJson) {
        if (saveTotalLimit != null && saveTotalLimit <= 0) {
            throw new IllegalArgumentException("save_total_limit must be positive (or null), got " + saveTotalLimit);
        }
        this.outputDir = outputDir;
        this.saveTotalLimit = saveTotalLimit;
        this.configJson = configJson;
    }

    public Path outputDir() {
        return outputDir;
    }

    /** {@code outputDir/checkpoint-<step>}. */
    public static Path dirFor(Path outputDir, long step) {
        return outputDir.resolve(PREFIX + step);
    }

    /** The step of a folder named {@code checkpoint-<step>}. */
    public static OptionalLong stepOf(Path dir) {
        Path name = dir.getFileName();
        Matcher m = name == null ? null : NAME.matcher(name.toString());
        if (m == null || !m.matches()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(m.group(1)));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Writes {@code checkpoint-<step>} (replacing one of the same step) and then rotates old ones.
     *
     * @return the new checkpoint folder
     */
    public Path save(long step, RunState state, OrtCheckpointWriter ortCheckpointWriter) throws IOException {
        if (state.globalStep() != step) {
            throw new IllegalArgumentException("checkpoint step " + step + " differs from the state's global_step "
                    + state.globalStep());
        }
        Files.createDirectories(outputDir);
        removeStaleTemporaries();
        Path tmp = outputDir.resolve(TEMP_PREFIX + step + "-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        Files.createDirectory(tmp);
        Path target = dirFor(outputDir, step);
        try {
            Path ort = tmp.resolve(ORT_FILE);
            try {
                ortCheckpointWriter.write(ort);
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException("writing the ORT checkpoint for step " + step + " failed: " + e.getMessage(), e);
            }
            if (!Files.exists(ort)) {
                throw new IOException("the ORT checkpoint writer wrote nothing at " + ort);
            }
            writeDurably(tmp.resolve(STATE_FILE), stateJson(state));
            if (configJson != null) {
                writeDurably(tmp.resolve(CONFIG_FILE), configJson);
            }
            Path old = null;
            if (Files.exists(target)) {
                old = outputDir.resolve(OLD_PREFIX + step + "-" + System.nanoTime());
                move(target, old);
            }
            move(tmp, target);
            syncDirectory(outputDir);
            if (old != null) {
                deleteTree(old);
            }
        } catch (IOException | RuntimeException | Error e) {
            try {
                deleteTree(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        rotate(state.bestStep());
        return target;
    }

    /** Complete checkpoints (with {@value #STATE_FILE}), oldest step first. */
    public List<Path> list() {
        if (!Files.isDirectory(outputDir)) {
            return List.of();
        }
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(outputDir)) {
            for (Path p : s) {
                if (stepOf(p).isPresent() && Files.isDirectory(p) && Files.isRegularFile(p.resolve(STATE_FILE))) {
                    found.add(p);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + outputDir, e);
        }
        found.sort(Comparator.comparingLong(p -> stepOf(p).getAsLong()));
        return found;
    }

    /** The checkpoint with the highest step, if any. */
    public Optional<Path> latest() {
        List<Path> all = list();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    private void rotate(long bestStep) throws IOException {
        if (saveTotalLimit == null) {
            return;
        }
        List<Path> all = list();
        int excess = all.size() - saveTotalLimit;
        for (Path p : all.subList(0, Math.max(0, all.size() - 1))) { // never the newest
            if (excess <= 0) {
                break;
            }
            if (stepOf(p).getAsLong() == bestStep) {
                continue;
            }
            deleteTree(p);
            excess--;
        }
    }

    private void removeStaleTemporaries() throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(outputDir)) {
            for (Path p : s) {
                String n = p.getFileName().toString();
                if ((n.startsWith(TEMP_PREFIX) || n.startsWith(OLD_PREFIX)) && Files.isDirectory(p)) {
                    deleteTree(p);
                }
            }
        }
    }

    // ---------------------------------------------------------------- reading

    /** Reads a checkpoint folder; a clear {@link IllegalArgumentException} when it is not one. */
    public static Saved load(Path dir) {
        if (!Files.exists(dir)) {
            throw new IllegalArgumentException(doesNotExist(dir));
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + " is not a checkpoint folder (it is a file); expected a "
                    + PREFIX + "<step> folder written by fit");
        }
        Path stateFile = dir.resolve(STATE_FILE);
        if (!Files.isRegularFile(stateFile)) {
            String hint = "";
            List<Path> inside = new RunCheckpoints(dir, null).list();
            if (!inside.isEmpty()) {
                hint = "; it is an output folder holding " + inside.size() + " checkpoint(s), the latest "
                        + inside.get(inside.size() - 1).getFileName() + " (use that, or resume_from_checkpoint: true)";
            }
            throw new IllegalArgumentException(dir + " is not a checkpoint folder: it has no " + STATE_FILE
                    + " (a checkpoint is " + PREFIX + "<step>/ with " + STATE_FILE + " and " + ORT_FILE + ")" + hint);
        }
        if (!Files.isRegularFile(dir.resolve(ORT_FILE))) {
            throw new IllegalArgumentException(dir + " is an incomplete checkpoint: " + ORT_FILE + " is missing");
        }
        RunState state = readState(stateFile);
        OptionalLong named = stepOf(dir);
        long step = named.orElse(state.globalStep());
        if (named.isPresent() && named.getAsLong() != state.globalStep()) {
            throw new IllegalArgumentException(stateFile + ": global_step " + state.globalStep()
                    + " does not match the folder name " + dir.getFileName());
        }
        return new Saved(dir, step, state);
    }

    /**
     * The error for a checkpoint path that does not exist; when it is in a run folder (or is a file inside
     * a missing checkpoint folder of one), the checkpoints that do exist there, since a mistyped step is the
     * usual cause: {@code checkpoint runs/demo/checkpoint-39 does not exist; runs/demo has checkpoint-40, checkpoint-80}.
     */
    public static String doesNotExist(Path checkpoint) {
        Path run = checkpoint.getParent() != null ? checkpoint.getParent() : Path.of(".");
        if (!Files.exists(run) && stepOf(run).isPresent()) {
            run = run.getParent() != null ? run.getParent() : Path.of(".");
        }
        String message = "checkpoint " + checkpoint + " does not exist";
        if (!Files.isDirectory(run)) {
            return message;
        }
        List<String> names = new RunCheckpoints(run, null).list().stream().map(p -> p.getFileName().toString()).toList();
        if (names.size() > 10) { // the oldest few and the newest, which is where a step is usually looked for
            names = Stream.of(names.subList(0, 3), List.of("..."), names.subList(names.size() - 6, names.size()))
                    .flatMap(List::stream).toList();
        }
        if (!names.isEmpty()) {
            return message + "; " + run + " has " + String.join(", ", names);
        }
        boolean isRun = Files.isRegularFile(run.resolve("train_config.json"));
        return isRun ? message + "; the run folder " + run + " has no " + PREFIX + "<step> folder yet" : message;
    }

    /**
     * HF's {@code resume_from_checkpoint}: null, empty or false = start fresh; true or latest = the latest
     * checkpoint in {@code outputDir} (an error when there is none); anything else = a checkpoint folder.
     */
    public static Optional<Saved> resolveResume(String resumeFromCheckpoint, Path outputDir) {
        if (resumeFromCheckpoint == null) {
            return Optional.empty();
        }
        String v = resumeFromCheckpoint.strip();
        switch (v.toLowerCase(Locale.ROOT)) {
            case "", "false", "no", "none", "null" -> {
                return Optional.empty();
            }
            case "true", "yes", "latest" -> {
                Path latest = new RunCheckpoints(outputDir, null).latest().orElseThrow(() -> new IllegalArgumentException(
                        "resume_from_checkpoint is " + v + " but " + outputDir + " has no " + PREFIX + "<step> folder"));
                return Optional.of(load(latest));
            }
            default -> {
                return Optional.of(load(Path.of(v)));
            }
        }
    }

    static String stateJson(RunState state) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("format", FORMAT);
        o.setAll((ObjectNode) Json.MAPPER.valueToTree(state));
        try {
            return Json.MAPPER.writer(Json.PRETTY).writeValueAsString(o) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a {@value #STATE_FILE}. */
    public static RunState readState(Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (!(root instanceof ObjectNode o) || !FORMAT.equals(o.path("format").asText(null))) {
            throw new IllegalArgumentException(file + ": not a smoldpo trainer state (expected \"format\": \""
                    + FORMAT + "\")");
        }
        o.remove("format");
        try {
            return Json.MAPPER.treeToValue(o, RunState.class);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": invalid trainer state: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- file helpers

    private static void writeDurably(Path file, String text) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not supported on every platform; the rename itself is still atomic
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
