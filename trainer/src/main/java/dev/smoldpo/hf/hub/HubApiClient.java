package dev.smoldpo.hf.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Talks HTTP to the Hugging Face hub (or a mirror), with plain {@link HttpClient}.
 *
 * <ul>
 *   <li>File list: {@code GET {endpoint}/api/models/{repo_id}/revision/{revision}?blobs=true}, a JSON object
 *       with {@code sha} (the commit) and {@code siblings[]} ({@code rfilename}, {@code size}, and for LFS
 *       files {@code lfs.sha256}). Datasets: {@code GET {endpoint}/api/datasets/{repo_id}/revision/{revision}?blobs=true},
 *       the same JSON.
 *   <li>Files: {@code GET {endpoint}/{repo_id}/resolve/{commit}/{filename}} (datasets:
 *       {@code GET {endpoint}/datasets/{repo_id}/resolve/{commit}/{filename}}). Small files come back directly
 *       with {@code ETag} = the git blob sha1; LFS files are answered with a redirect to a CDN, carrying
 *       {@code X-Linked-Etag} (the content's sha256) and {@code X-Linked-Size}. Redirects are followed by
 *       hand: {@code Authorization} is only sent to the endpoint's origin (scheme, host <em>and port</em>),
 *       never to the CDN.
 *   <li>Errors: 401 (no/bad token; the hub also says 401 for repositories that don't exist), 403 (gated),
 *       404 with {@code X-Error-Code} {@code RepoNotFound}/{@code RevisionNotFound}/{@code EntryNotFound};
 *       {@link #httpError} turns them into {@link HubException}s that say what to do.
 * </ul>
 */
final class HubApiClient implements AutoCloseable {
    private static final int MAX_REDIRECTS = 10;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI endpoint;
    private final String token;
    private final String userAgent;
    private final Duration readTimeout;
    private final RepoType repoType;
    private final StallGuardedCopy copier;
    private final HttpClient http;

    /**
     * @param endpoint the hub's base URL, without a trailing slash
     * @param token sent as {@code Authorization: Bearer} to the endpoint's origin only, or null
     * @param readTimeout limit for the response headers and for any pause in a body
     */
    HubApiClient(URI endpoint, String token, String userAgent, Duration connectTimeout, Duration readTimeout,
            RepoType repoType) {
        this.endpoint = endpoint;
        this.token = token;
        this.userAgent = userAgent;
        this.readTimeout = readTimeout;
        this.repoType = repoType;
        this.copier = new StallGuardedCopy(readTimeout);
        this.http = HttpClient.newBuilder()
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    URI endpoint() {
        return endpoint;
    }

    boolean hasToken() {
        return token != null;
    }

    RepoType repoType() {
        return repoType;
    }

    /** The body copier with this client's read timeout, for the file transfers. */
    StallGuardedCopy copier() {
        return copier;
    }

    @Override
    public void close() {
        http.close();
    }

    /** Fetches and parses the file list of {@code repoId} at {@code revision} (already validated). */
    RepoInfo repoInfo(String repoId, String revision) throws HubException {
        String what = "the file list of " + repoType.named(repoId);
        URI uri = URI.create(base() + "/api/" + repoType.apiSegment() + "/" + repoId + "/revision/"
                + HubNames.encodeSegment(revision) + "?blobs=true");
        HubResponse ex = open(uri, null, what);
        byte[] body;
        try (InputStream in = ex.response().body()) {
            int sc = ex.response().statusCode();
            if (sc != 200) {
                throw httpError(sc, ex.response().headers(), readSome(in), repoId, revision, null);
            }
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            copier.copy(in, buf, what, n -> {});
            body = buf.toByteArray();
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            throw new HubException(HubException.Kind.OFFLINE, "reading " + what + " failed: " + e, e);
        }
        return parseRepoInfo(uri, repoId, revision, body);
    }

    private static RepoInfo parseRepoInfo(URI uri, String repoId, String revision, byte[] body) throws HubException {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new HubException(HubException.Kind.HTTP, "the hub's answer for " + uri + " is not JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new HubException(HubException.Kind.HTTP, "the hub's answer for " + uri + " is not a JSON object");
        }
        String sha = lowerHex(root.path("sha"), HubNames.SHA1_HEX);
        List<RepoInfo.RemoteFile> files = new ArrayList<>();
        for (JsonNode s : root.path("siblings")) {
            String name = s.path("rfilename").asText(null);
            if (name == null || name.isEmpty()) {
                continue;
            }
            long size = s.path("size").canConvertToLong() ? s.path("size").asLong() : -1;
            JsonNode lfs = s.path("lfs");
            if (lfs.path("size").canConvertToLong()) {
                size = lfs.path("size").asLong();
            }
            files.add(new RepoInfo.RemoteFile(name, size, lowerHex(lfs.path("sha256"), HubNames.SHA256_HEX)));
        }
        return new RepoInfo(repoId, revision, sha, files);
    }

    /** A text field holding a hex digest, lower-cased; null when absent or not of the expected form. */
    private static String lowerHex(JsonNode node, Pattern form) {
        if (!node.isTextual()) {
            return null;
        }
        String s = node.asText().toLowerCase(Locale.ROOT);
        return form.matcher(s).matches() ? s : null;
    }

    /** {@code {endpoint}/{repo_id}/resolve/{revision}/{name}} ({@code {endpoint}/datasets/...} for datasets). */
    URI resolveUri(String repoId, String revision, String name) {
        return URI.create(base() + "/" + repoType.urlPrefix() + repoId + "/resolve/" + HubNames.encodeSegment(revision)
                + "/" + HubNames.encodePath(name));
    }

    /**
     * Sends a GET and follows redirects by hand, sending the token only to the endpoint's origin.
     *
     * @param range a {@code Range} header value, or null
     * @param what names the request in messages
     */
    HubResponse open(URI uri, String range, String what) throws HubException {
        String linkedEtag = null;
        long linkedSize = -1;
        String hubEtag = null;
        String commit = null;
        URI current = uri;
        for (int hop = 0; ; hop++) {
            boolean toHub = sameOrigin(current, endpoint);
            HttpRequest.Builder rb = HttpRequest.newBuilder(current)
                    .timeout(readTimeout)
                    .header("User-Agent", userAgent)
                    .GET();
            if (range != null) {
                rb.header("Range", range);
            }
            if (toHub && token != null) {
                rb.header("Authorization", "Bearer " + token);
            }
            HttpResponse<InputStream> r = send(rb.build(), what);
            HttpHeaders h = r.headers();
            if (linkedEtag == null) {
                linkedEtag = h.firstValue("X-Linked-Etag").map(HubApiClient::normalizeEtag).orElse(null);
            }
            if (linkedSize < 0) {
                linkedSize = h.firstValue("X-Linked-Size").map(HubApiClient::parseLongOrMinus).orElse(-1L);
            }
            if (hubEtag == null && toHub) {
                hubEtag = h.firstValue("ETag").map(HubApiClient::normalizeEtag).orElse(null);
            }
            if (commit == null) {
                commit = h.firstValue("X-Repo-Commit").orElse(null);
            }
            int sc = r.statusCode();
            if (sc != 301 && sc != 302 && sc != 303 && sc != 307 && sc != 308) {
                return new HubResponse(r, linkedEtag, linkedSize, hubEtag, commit);
            }
            StallGuardedCopy.closeQuietly(r.body());
            current = redirectTarget(current, h.firstValue("Location").orElse(null), hop, what);
        }
    }

    private static URI redirectTarget(URI current, String location, int hop, String what) throws HubException {
        if (location == null) {
            throw new HubException(HubException.Kind.HTTP, "redirect without Location for " + what + " at " + current);
        }
        if (hop >= MAX_REDIRECTS) {
            throw new HubException(HubException.Kind.HTTP, "too many redirects for " + what + " (last: " + current + ")");
        }
        URI next;
        try {
            next = current.resolve(location);
        } catch (IllegalArgumentException e) {
            throw new HubException(HubException.Kind.HTTP, "bad redirect Location for " + what + ": " + location, e);
        }
        if (!"http".equalsIgnoreCase(next.getScheme()) && !"https".equalsIgnoreCase(next.getScheme())) {
            throw new HubException(HubException.Kind.HTTP, "redirect to a non-HTTP location for " + what + ": " + location);
        }
        return next;
    }

    private HttpResponse<InputStream> send(HttpRequest request, String what) throws HubException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException(HubException.Kind.IO, "interrupted while fetching " + what, e);
        } catch (HttpTimeoutException e) {
            throw offline("timed out fetching " + what + " from " + request.uri().getHost() + ":" + port(request.uri())
                    + " (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            String reason = describe(e);
            throw offline("cannot fetch " + what + " from " + request.uri().getScheme() + "://"
                    + request.uri().getHost() + ":" + port(request.uri()) + " (" + reason + ")", e);
        } catch (IllegalArgumentException e) {
            throw new HubException(HubException.Kind.INVALID, "bad URL " + request.uri() + ": " + e.getMessage(), e);
        }
    }

    private static HubException offline(String message, Throwable cause) {
        return new HubException(HubException.Kind.OFFLINE, message
                + ": offline? pass a local folder instead (or set HF_ENDPOINT to a reachable mirror)", cause);
    }

    private static String describe(IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException) {
                return "connection refused or unreachable" + (t.getMessage() != null ? ": " + t.getMessage() : "");
            }
            if (t instanceof UnknownHostException) {
                return "unknown host " + t.getMessage();
            }
            if (t instanceof NoRouteToHostException) {
                return "no route to host";
            }
        }
        return e.toString();
    }

    /**
     * The exception for a non-success status, naming the repository (and file) and saying what to do.
     *
     * @param body the start of the response body (the hub puts {@code {"error": ...}} there), or null
     * @param file the file asked for, or null for the file list
     */
    HubException httpError(int status, HttpHeaders h, String body, String repoId, String revision, String file) {
        String code = h.firstValue("X-Error-Code").orElse("");
        String serverMsg = h.firstValue("X-Error-Message").orElse(null);
        if (serverMsg == null && body != null && !body.isBlank()) {
            try {
                JsonNode n = JSON.readTree(body);
                if (n != null && n.path("error").isTextual()) {
                    serverMsg = n.path("error").asText();
                }
            } catch (IOException | RuntimeException ignored) {
                // not JSON: leave it out
            }
        }
        String named = repoType.named(repoId);
        String subject = (file == null ? "" : file + " in ") + named + " (revision " + revision + ")";
        String noun = repoType.noun();
        String server = serverMsg == null ? "" : " [hub: " + serverMsg + "]";
        return switch (status) {
            case 401 -> new HubException(HubException.Kind.UNAUTHORIZED, "HTTP 401 unauthorized for " + subject + server
                    + ": the " + noun + " is private or gated, or does not exist; "
                    + (token == null ? "no token was sent: set HF_TOKEN to an access token with read access"
                            : "the token from HF_TOKEN (or the one given) was rejected: check it")
                    + " (https://huggingface.co/settings/tokens)");
            case 403 -> new HubException(HubException.Kind.FORBIDDEN, "HTTP 403 forbidden for " + subject + server
                    + ": the token has no access; for a gated " + repoType.kindName() + " accept its terms at " + base()
                    + "/" + repoType.urlPrefix() + repoId
                    + " and set HF_TOKEN to a token with read access");
            case 404 -> {
                String msg;
                if (code.equals("RepoNotFound")) {
                    msg = noun + " " + repoId + " not found on " + base();
                } else if (code.equals("RevisionNotFound")) {
                    msg = "revision " + revision + " not found in " + named;
                } else if (file != null) {
                    msg = "file " + file + " not found in " + named + " at revision " + revision;
                } else {
                    msg = noun + " " + repoId + " or revision " + revision + " not found on " + base();
                }
                yield new HubException(HubException.Kind.NOT_FOUND, "HTTP 404: " + msg + server
                        + (repoType == RepoType.DATASET
                                ? " (check the spelling, and that it is a dataset, not a model; private datasets also need HF_TOKEN)"
                                : " (check the spelling; private repositories also need HF_TOKEN)"));
            }
            case 429 -> new HubException(HubException.Kind.HTTP, "HTTP 429 rate limited by the hub for " + subject
                    + server + "; wait a little and retry (a token in HF_TOKEN raises the limit)");
            default -> new HubException(HubException.Kind.HTTP, "HTTP " + status + " for " + subject + server
                    + (status >= 500 ? "; the hub has trouble, retry later" : ""));
        };
    }

    /** The start of an error body, for {@link #httpError}; empty when it cannot be read. */
    static String readSome(InputStream in) {
        try {
            return new String(in.readNBytes(2048), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private String base() {
        return endpoint.toString();
    }

    /** Same scheme, host and port (default ports filled in). */
    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        if (u.getPort() >= 0) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** An ETag without {@code W/} and quotes, lower-cased, to compare with a hex digest. */
    static String normalizeEtag(String raw) {
        String s = raw.strip();
        if (s.startsWith("W/")) {
            s = s.substring(2);
        }
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) {
            s = s.substring(1, s.length() - 1);
        }
        return s.toLowerCase(Locale.ROOT);
    }

    private static long parseLongOrMinus(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
