package dev.smoldpo.hf.hub;

import java.nio.file.Path;
import java.util.List;

/**
 * A complete local snapshot of a repository.
 *
 * @param repoId e.g. {@code HuggingFaceTB/SmolVLM-256M-Instruct}
 * @param revision the revision asked for
 * @param commit the commit the files come from (the snapshot folder's name)
 * @param dir the snapshot folder; load the model from here
 * @param files repository paths present in {@code dir}
 * @param skipped optional files the repository does not have
 * @param downloadedBytes bytes transferred by this call (0 when everything was already there)
 */
public record Snapshot(String repoId, String revision, String commit, Path dir, List<String> files,
        List<String> skipped, long downloadedBytes) {
    public Snapshot {
        files = List.copyOf(files);
        skipped = List.copyOf(skipped);
    }
}
