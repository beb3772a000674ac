package dev.smoldpo.hf.hub;

import java.util.List;
import java.util.Optional;

/**
 * What {@code GET /api/models/{repo_id}/revision/{revision}?blobs=true} says about a repository.
 *
 * @param repoId e.g. {@code HuggingFaceTB/SmolVLM-256M-Instruct}
 * @param revision the revision asked for (branch, tag or commit)
 * @param sha the commit the revision points to (40 hex), or null when the hub did not say
 * @param files the repository's files ({@code siblings})
 */
public record RepoInfo(String repoId, String revision, String sha, List<RemoteFile> files) {
    /**
     * One entry of {@code siblings}.
     *
     * @param name {@code rfilename}
     * @param size size in bytes, or -1 if not listed
     * @param lfsSha256 sha256 of an LFS file's content ({@code lfs.sha256}), or null
     */
    public record RemoteFile(String name, long size, String lfsSha256) {}

    public RepoInfo {
        files = List.copyOf(files);
    }

    public Optional<RemoteFile> file(String name) {
        return files.stream().filter(f -> f.name().equals(name)).findFirst();
    }
}
