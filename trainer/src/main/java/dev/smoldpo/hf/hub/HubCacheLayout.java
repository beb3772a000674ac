package dev.smoldpo.hf.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where downloads live on disk: huggingface_hub's cache layout, without the blob store.
 *
 * <pre>
 * {cache}/models--{org}--{name}/
 *     snapshots/{commit}/config.json, model.safetensors, ...   the files themselves (no symlinks)
 *     refs/{revision}                                          the commit the revision pointed to
 *     complete/{commit}                                        written last: the files known complete
 * {cache}/datasets--{org}--{name}/                             the same, for dataset repositories
 * </pre>
 *
 * A file being downloaded is {@code {file}.incomplete} next to its final name; a {@code {file}.lfs-pointer}
 * next to it gives its expected sha256 and size. A snapshot is complete once {@code complete/{commit}}
 * exists; {@link #cachedSnapshot} reads it back without touching the network.
 */
final class HubCacheLayout {
    private static final String INCOMPLETE = ".incomplete";
    private static final String POINTER = ".lfs-pointer";

    private final Path cacheDir;
    private final RepoType repoType;

    HubCacheLayout(Path cacheDir, RepoType repoType) {
        this.cacheDir = cacheDir;
        this.repoType = repoType;
    }

    /**
     * The default cache: {@code $SMOLDPO_CACHE/hub}, else {@code $XDG_CACHE_HOME/smoldpo/hub}, else
     * {@code ~/.cache/smoldpo/hub}. (Not huggingface_hub's own cache: that one expects a blob store.)
     */
    static Path defaultCacheDir(Map<String, String> env) {
        String own = env.get("SMOLDPO_CACHE");
        if (own != null && !own.isBlank()) {
            return Path.of(own, "hub");
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "smoldpo", "hub");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "smoldpo", "hub");
    }

    Path cacheDir() {
        return cacheDir;
    }

    /** {@code {cache}/models--{org}--{name}} ({@code datasets--{org}--{name}} for {@link RepoType#DATASET}). */
    Path repoDir(String repoId) {
        HubNames.requireRepoId(repoType, repoId);
        return cacheDir.resolve(repoType.cachePrefix() + repoId.replace("/", "--"));
    }

    /** {@code {cache}/models--{org}--{name}/snapshots/{commit}} (or {@code datasets--...}). */
    Path snapshotDir(String repoId, String commit) {
        return repoDir(repoId).resolve("snapshots").resolve(HubNames.safeRef(commit));
    }

    /** Where {@code target} is written until it is complete and verified. */
    static Path partialFile(Path target) {
        return target.resolveSibling(target.getFileName() + INCOMPLETE);
    }

    /** A git-lfs pointer a user may put next to {@code target} to give its expected sha256 and size. */
    static Path pointerFile(Path target) {
        return target.resolveSibling(target.getFileName() + POINTER);
    }

    /** Records that {@code revision} points to {@code commit}, for offline use. */
    void writeRef(String repoId, String revision, String commit) throws HubException {
        writeAtomically(repoDir(repoId).resolve("refs").resolve(HubNames.safeRef(revision)), commit + "\n");
    }

    /**
     * Marks the snapshot of {@code commit} complete, written after every file is in place.
     *
     * @param files the files present in the snapshot folder
     * @param skipped optional files the repository does not have
     * @param all whether {@code files} is every file of the repository (a full snapshot)
     */
    void markComplete(String repoId, String commit, List<String> files, List<String> skipped, boolean all)
            throws HubException {
        StringBuilder sb = new StringBuilder();
        if (all) {
            sb.append("all\n");
        }
        files.forEach(f -> sb.append("file ").append(f).append('\n'));
        skipped.forEach(f -> sb.append("skipped ").append(f).append('\n'));
        writeAtomically(repoDir(repoId).resolve("complete").resolve(HubNames.safeRef(commit)), sb.toString());
    }

    /**
     * A complete snapshot already in the cache: the revision is resolved through {@code refs/{revision}} (or
     * taken as a commit), and every wanted file (every file, when {@code wanted} is null and the snapshot was
     * a full one) must be there or known to be absent upstream. Anything unreadable counts as not cached.
     */
    Optional<Snapshot> cachedSnapshot(String repoId, String revision, List<WantedFile> wanted) {
        Path repo = repoDir(repoId);
        String commit = revision;
        try {
            Path ref = repo.resolve("refs").resolve(HubNames.safeRef(revision));
            if (Files.isRegularFile(ref)) {
                commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            }
            Path marker = repo.resolve("complete").resolve(HubNames.safeRef(commit));
            if (!Files.isRegularFile(marker)) {
                return Optional.empty();
            }
            List<String> files = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            boolean all = false;
            for (String line : Files.readAllLines(marker, StandardCharsets.UTF_8)) {
                if (line.equals("all")) {
                    all = true;
                } else if (line.startsWith("file ")) {
                    files.add(line.substring(5));
                } else if (line.startsWith("skipped ")) {
                    skipped.add(line.substring(8));
                }
            }
            Path dir = snapshotDir(repoId, commit);
            for (String f : files) {
                if (!Files.isRegularFile(dir.resolve(f))) {
                    return Optional.empty();
                }
            }
            if (wanted == null) {
                if (!all) {
                    return Optional.empty();
                }
                return Optional.of(new Snapshot(repoId, revision, commit, dir, files, skipped, 0));
            }
            for (WantedFile w : wanted) {
                if (!files.contains(w.name()) && !skipped.contains(w.name())) {
                    return Optional.empty();
                }
            }
            Set<String> names = new LinkedHashSet<>();
            wanted.forEach(w -> names.add(w.name()));
            return Optional.of(new Snapshot(repoId, revision, commit, dir, files.stream().filter(names::contains).toList(),
                    skipped.stream().filter(names::contains).toList(), 0));
        } catch (IOException | UncheckedIOException e) {
            return Optional.empty();
        }
    }

    private static void writeAtomically(Path file, String text) throws HubException {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            moveIntoPlace(tmp, file);
        } catch (IOException e) {
            throw new HubException(HubException.Kind.IO, "cannot write " + file + ": " + e, e);
        }
    }

    /** Renames {@code from} to {@code to}, atomically where the file system can. */
    static void moveIntoPlace(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
