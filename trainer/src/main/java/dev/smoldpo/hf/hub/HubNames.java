package dev.smoldpo.hf.hub;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * What the hub client accepts as repository ids, file names and revisions, and how they are written into
 * URLs and folder names. Every name that comes from the user or from the hub's file list passes through
 * here before it becomes part of a path, so that {@code ..} or an absolute name can never leave the cache.
 */
final class HubNames {
    /** A git commit or git blob sha1, lower-case hex. */
    static final Pattern SHA1_HEX = Pattern.compile("[0-9a-f]{40}");
    /** A sha256 digest, lower-case hex (an LFS file's id). */
    static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    private static final Pattern REPO_ID =
            Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");

    private HubNames() {}

    /**
     * Checks an {@code org/name} id. {@code --} is refused because the cache folder joins org and name with
     * it ({@code models--org--name}), so it would make two ids share a folder.
     *
     * @throws IllegalArgumentException naming the id and giving an example of the repository kind
     */
    static void requireRepoId(RepoType type, String repoId) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--") || repoId.contains("..")) {
            throw new IllegalArgumentException("not a hub " + type.noun() + " id (expected org/name, e.g. "
                    + type.example() + "): " + repoId);
        }
    }

    /** {@link #requireRepoId} for the download methods, which report everything as {@link HubException}. */
    static void checkRepoId(RepoType type, String repoId) throws HubException {
        try {
            requireRepoId(type, repoId);
        } catch (IllegalArgumentException e) {
            throw new HubException(HubException.Kind.INVALID, e.getMessage(), e);
        }
    }

    /** A repository path must stay inside the snapshot folder: relative, {@code /}-separated, no empty, . or .. part. */
    static void checkFileName(String name) throws HubException {
        boolean bad = name == null || name.isEmpty() || name.startsWith("/") || name.contains("\\") || name.indexOf('\0') >= 0;
        if (!bad) {
            for (String seg : name.split("/", -1)) {
                if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
                    bad = true;
                    break;
                }
            }
        }
        if (bad) {
            throw new HubException(HubException.Kind.INVALID, "unsafe file name in repository: '" + name + "'");
        }
    }

    /** A revision or commit as one safe folder or file name (also what goes into a URL path segment). */
    static String safeRef(String ref) {
        String s = encodeSegment(ref);
        if (s.equals(".") || s.equals("..") || s.isEmpty()) {
            throw new IllegalArgumentException("bad revision: '" + ref + "'");
        }
        return s;
    }

    /** One URL path segment, percent-encoded ({@code %20} for a space, not {@code +}). */
    static String encodeSegment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** A {@code /}-separated repository path with each segment encoded and the slashes kept. */
    static String encodePath(String path) {
        String[] parts = path.split("/", -1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                sb.append('/');
            }
            sb.append(encodeSegment(parts[i]));
        }
        return sb.toString();
    }
}
