package dev.smoldpo.hf.hub;

import java.io.InputStream;
import java.net.http.HttpResponse;

/**
 * A final (non-redirect) response, with the hub's headers gathered along the redirect chain: an LFS file is
 * answered by the hub with a redirect that carries its sha256 and size, and the CDN that serves the bytes
 * does not repeat them.
 *
 * @param response the last response; its body is the file (or the error text)
 * @param linkedEtag {@code X-Linked-Etag}, normalized (an LFS file's sha256), or null
 * @param linkedSize {@code X-Linked-Size}, or -1
 * @param hubEtag the {@code ETag} the hub itself sent (never the CDN's), normalized, or null
 * @param repoCommit {@code X-Repo-Commit}, or null
 */
record HubResponse(HttpResponse<InputStream> response, String linkedEtag, long linkedSize, String hubEtag,
        String repoCommit) {}
