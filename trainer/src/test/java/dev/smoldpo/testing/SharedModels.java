package dev.smoldpo.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The real SmolVLM-256M-Instruct config, tokenizer and processor files (no weights) that some tests
 * read. They are never copied into the repository: CI and the project's machines have them in
 * {@code ../shared/models} beside the clone, or {@value #ENV} names another folder that holds
 * {@code SmolVLM-256M-Instruct/}.
 *
 * <p>A fresh clone without them still passes {@code ./mvnw verify}: the tests that need them are
 * skipped, with one line saying what to provide. Under {@code CI=true} (or {@code CI=1}) a missing
 * folder fails those tests instead, so CI never goes green by skipping them. A folder that is there
 * but incomplete, or an {@value #ENV} that points nowhere, fails everywhere: it is a broken setup,
 * not an absent one.
 */
public final class SharedModels {
    /** Environment variable naming a folder that holds {@code SmolVLM-256M-Instruct/} (overrides {@code ../shared/models}). */
    public static final String ENV = "SMOLDPO_SHARED_MODELS";
    /** The model folder's name, as on the hub (HuggingFaceTB/SmolVLM-256M-Instruct). */
    public static final String SMOLVLM = "SmolVLM-256M-Instruct";
    /** The files of the model folder that tests read. */
    public static final List<String> SMOLVLM_FILES = List.of("config.json", "tokenizer.json", "tokenizer_config.json",
            "chat_template.json", "preprocessor_config.json", "processor_config.json", "generation_config.json",
            "model.safetensors.lfs-pointer");

    private static final AtomicBoolean ANNOUNCED = new AtomicBoolean();

    private SharedModels() {}

    /**
     * What to do about the shared model folder.
     *
     * @param dir     the complete model folder, or null
     * @param message when {@code dir} is null: the one line that says what is missing and how to provide it
     * @param fail    when {@code dir} is null: fail (CI, or a broken setup) rather than skip
     */
    public record Decision(Path dir, String message, boolean fail) {
        static Decision use(Path dir) {
            return new Decision(dir, null, false);
        }
    }

    /**
     * {@code SmolVLM-256M-Instruct}: the folder to use, or else the test calling this is skipped
     * (JUnit assumption) or, under CI, failed, with a message that says what to provide.
     */
    public static Path smolVlmDir() {
        Decision decision = decide(System.getenv(), Path.of("").toAbsolutePath());
        if (decision.dir() == null && !decision.fail() && ANNOUNCED.compareAndSet(false, true)) {
            // once per test JVM, so the build log says why its shared-model tests count as skipped
            System.err.println("[smoldpo tests] " + decision.message());
        }
        return require(decision);
    }

    public static Path smolVlmConfig() {
        return smolVlmDir().resolve("config.json");
    }

    /** The folder of {@code decision}, or the skip or failure it calls for. */
    static Path require(Decision decision) {
        if (decision.dir() != null) {
            return decision.dir();
        }
        if (decision.fail()) {
            return Assertions.fail(decision.message());
        }
        Assumptions.abort(decision.message());
        throw new AssertionError("unreachable: Assumptions.abort returned");
    }

    /**
     * The decision for environment {@code env} and working directory {@code workingDir} (a module
     * folder of the clone, where surefire runs), without reading the real environment.
     */
    static Decision decide(Map<String, String> env, Path workingDir) {
        boolean ci = isCi(env.get("CI"));
        String override = env.get(ENV);
        if (override != null && !override.isBlank()) {
            Path dir = Path.of(override).toAbsolutePath().resolve(SMOLVLM);
            if (!Files.isDirectory(dir)) {
                return new Decision(null, ENV + "=" + override + " has no " + SMOLVLM + "/ folder (" + dir
                        + " not found); it must name the folder that holds " + SMOLVLM + "/", true);
            }
            return complete(dir);
        }
        Path root = projectRoot(workingDir);
        Path expected = root == null || root.getParent() == null ? null : root.getParent().resolve("shared/models").resolve(SMOLVLM);
        if (expected != null && Files.isDirectory(expected)) {
            return complete(expected);
        }
        String where = expected == null ? "(no project root with mvnw above " + workingDir + ")" : "(" + expected + " not found)";
        String message = "needs ../shared/models/" + SMOLVLM + " beside the clone " + where + ": the " + String.join(", ", SMOLVLM_FILES)
                + " of HuggingFaceTB/" + SMOLVLM + " (no weights); place it there or set " + ENV + " to a folder holding "
                + SMOLVLM + "/" + (ci ? " — CI=true: failing instead of skipping" : "; skipped (CI=true makes this a failure)");
        return new Decision(null, message, ci);
    }

    /** The folder when every file the tests read is in it; else a failure naming the missing ones. */
    private static Decision complete(Path dir) {
        List<String> missing = SMOLVLM_FILES.stream().filter(f -> !Files.isRegularFile(dir.resolve(f))).toList();
        if (!missing.isEmpty()) {
            return new Decision(null, dir + " is incomplete: missing " + String.join(", ", missing)
                    + " (the files of HuggingFaceTB/" + SMOLVLM + " the tests read)", true);
        }
        return Decision.use(dir);
    }

    /** The nearest folder at or above {@code dir} holding the Maven wrapper, i.e. the clone's root; null if none. */
    private static Path projectRoot(Path dir) {
        for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("mvnw"))) {
                return p;
            }
        }
        return null;
    }

    /** CI=true (GitHub Actions, GitLab, CircleCI, ... set it) or CI=1. */
    static boolean isCi(String value) {
        return value != null && (value.equalsIgnoreCase("true") || value.equals("1"));
    }
}
