package dev.smoldpo.hf.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads a model or dataset repository snapshot from the Hugging Face hub (or a mirror) with plain
 * {@link HttpClient}: no git, no Python. The {@link RepoType} is chosen on the {@link Builder}
 * ({@link Builder#repoType}, default {@link RepoType#MODEL}); it only changes the URL paths, the cache folder
 * prefix and how error messages name the repository.
 *
 * <h2>HTTP contract (as used by huggingface_hub)</h2>
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
 *       404 with {@code X-Error-Code} {@code RepoNotFound}/{@code RevisionNotFound}/{@code EntryNotFound}.
 * </ul>
 *
 * <h2>Local layout (huggingface_hub's cache layout, without the blob store)</h2>
 *
 * <pre>
 * {cache}/models--{org}--{name}/
 *     snapshots/{commit}/config.json, model.safetensors, ...   the files themselves (no symlinks)
 *     refs/{revision}                                          the commit the revision pointed to
 *     complete/{commit}                                        written last: the files known complete
 * {cache}/datasets--{org}--{name}/                             the same, for dataset repositories
 * </pre>
 *
 * A file is written to {@code {file}.incomplete}, resumed from there with {@code Range: bytes=N-} (restarted
 * if the server answers 200), checked against the expected size and sha256 and only then renamed to its
 * name. A snapshot is complete once {@code complete/{commit}} exists; {@link #cachedSnapshot} checks it.
 *
 * <h2>Integrity</h2>
 *
 * Expected sha256, first found of: {@link WantedFile#expected()} (e.g. a parsed git-lfs pointer), a
 * {@code {file}.lfs-pointer} file next to the target, the API's {@code lfs.sha256}, the {@code X-Linked-Etag}
 * header, a 64-hex {@code ETag} from the hub. A 40-hex {@code ETag} from the hub (non-LFS files) is checked
 * as a git blob sha1 (or a plain sha1, for mirrors). Expected size: pointer, {@code X-Linked-Size}, API
 * listing, {@code Content-Length}. A mismatch deletes the download and throws {@link HubException} naming
 * the file, the expected and the actual value; a short file is kept as {@code .incomplete} to resume.
 *
 * <h2>Configuration</h2>
 *
 * {@code HF_ENDPOINT} (default {@value #DEFAULT_ENDPOINT}) and {@code HF_TOKEN} (or the older
 * {@code HUGGING_FACE_HUB_TOKEN}) are read from the environment unless given to the {@link Builder}.
 * Instances are not meant for concurrent downloads into the same snapshot.
 */
public final class HubDownloader implements AutoCloseable {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    public static final String DEFAULT_REVISION = "main";
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(60);

    /** The files SmolVLM needs; only config.json and model.safetensors are required. */
    public static final List<WantedFile> SMOLVLM_FILES = List.of(
            WantedFile.required("config.json"),
            WantedFile.required("model.safetensors"),
            WantedFile.optional("tokenizer.json"),
            WantedFile.optional("tokenizer_config.json"),
            WantedFile.optional("special_tokens_map.json"),
            WantedFile.optional("added_tokens.json"),
            WantedFile.optional("chat_template.json"),
            WantedFile.optional("preprocessor_config.json"),
            WantedFile.optional("processor_config.json"),
            WantedFile.optional("generation_config.json"));

    private static final String INCOMPLETE = ".incomplete";
    private static final String POINTER = ".lfs-pointer";
    private static final int MAX_REDIRECTS = 10;
    private static final Pattern REPO_ID =
            Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
    private static final Pattern HEX40 = Pattern.compile("[0-9a-f]{40}");
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern CONTENT_RANGE_416 = Pattern.compile("bytes\\s+\\*/(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI endpoint;
    private final String token;
    private final Path cacheDir;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final HubProgress progress;
    private final boolean offlineFallback;
    private final String userAgent;
    private final RepoType repoType;
    private final HttpClient http;

    private HubDownloader(Builder b) {
        Map<String, String> env = b.env != null ? b.env : System.getenv();
        String ep = firstNonBlank(b.endpoint, env.get("HF_ENDPOINT"), DEFAULT_ENDPOINT).strip();
        while (ep.endsWith("/")) {
            ep = ep.substring(0, ep.length() - 1);
        }
        URI uri;
        try {
            uri = URI.create(ep);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad hub endpoint (HF_ENDPOINT?): " + ep, e);
        }
        if (uri.getHost() == null || !("http".equalsIgnoreCase(uri.getScheme()) || "https".equalsIgnoreCase(uri.getScheme()))) {
            throw new IllegalArgumentException("bad hub endpoint (HF_ENDPOINT?), need http(s)://host: " + ep);
        }
        this.endpoint = uri;
        this.token = firstNonBlank(b.token, env.get("HF_TOKEN"), env.get("HUGGING_FACE_HUB_TOKEN"));
        this.cacheDir = Objects.requireNonNull(b.cacheDir, "cacheDir");
        this.connectTimeout = b.connectTimeout;
        this.readTimeout = b.readTimeout;
        this.progress = b.progress;
        this.offlineFallback = b.offlineFallback;
        this.userAgent = b.userAgent;
        this.repoType = b.repoType;
        this.http = HttpClient.newBuilder()
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /** A downloader into {@code cacheDir}; endpoint and token come from the environment unless set. */
    public static Builder builder(Path cacheDir) {
        return new Builder(cacheDir);
    }

    /**
     * The default cache: {@code $SMOLDPO_CACHE/hub}, else {@code $XDG_CACHE_HOME/smoldpo/hub}, else
     * {@code ~/.cache/smoldpo/hub}. (Not huggingface_hub's own cache: that one expects a blob store.)
     */
    public static Path defaultCacheDir(Map<String, String> env) {
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

    /** Configuration; every setter is optional. */
    public static final class Builder {
        private final Path cacheDir;
        private String endpoint;
        private String token;
        private Map<String, String> env;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration readTimeout = DEFAULT_READ_TIMEOUT;
        private HubProgress progress = HubProgress.NONE;
        private boolean offlineFallback = true;
        private String userAgent = "smoldpo/0.1 (java.net.http)";
        private RepoType repoType = RepoType.MODEL;

        private Builder(Path cacheDir) {
            this.cacheDir = cacheDir;
        }

        /** Hub base URL, e.g. {@code https://huggingface.co}; overrides {@code HF_ENDPOINT}. */
        public Builder endpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        /** Access token sent as {@code Authorization: Bearer} to the hub; overrides {@code HF_TOKEN}. */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /** The environment to read {@code HF_ENDPOINT}/{@code HF_TOKEN} from (default: the process's). */
        public Builder env(Map<String, String> env) {
            this.env = Map.copyOf(env);
            return this;
        }

        /** Limit for establishing a connection. */
        public Builder connectTimeout(Duration d) {
            this.connectTimeout = requirePositive(d);
            return this;
        }

        /** Limit for the response headers and for any pause in the body. */
        public Builder readTimeout(Duration d) {
            this.readTimeout = requirePositive(d);
            return this;
        }

        public Builder progress(HubProgress progress) {
            this.progress = Objects.requireNonNull(progress);
            return this;
        }

        /**
         * When the hub cannot be reached, return an already complete cached snapshot of the revision
         * instead of failing (default true), as huggingface_hub does.
         */
        public Builder offlineFallback(boolean on) {
            this.offlineFallback = on;
            return this;
        }

        public Builder userAgent(String userAgent) {
            this.userAgent = Objects.requireNonNull(userAgent);
            return this;
        }

        /**
         * The kind of repository this downloader fetches (default {@link RepoType#MODEL}); e.g.
         * {@code .repoType(RepoType.DATASET)} for {@code openbmb/RLHF-V-Dataset}. It picks the API and resolve
         * paths ({@code /api/datasets/...}, {@code /datasets/{repo_id}/resolve/...}) and the cache folder
         * ({@code datasets--{org}--{name}}).
         */
        public Builder repoType(RepoType repoType) {
            this.repoType = Objects.requireNonNull(repoType, "repoType");
            return this;
        }

        public HubDownloader build() {
            return new HubDownloader(this);
        }

        private static Duration requirePositive(Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeout must be positive: " + d);
            }
            return d;
        }
    }

    public URI endpoint() {
        return endpoint;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** The kind of repository this downloader fetches. */
    public RepoType repoType() {
        return repoType;
    }

    /** Whether a token will be sent. */
    public boolean hasToken() {
        return token != null;
    }

    @Override
    public void close() {
        http.close();
    }

    // ---------------------------------------------------------------------------------------------
    // public API

    /** Downloads every file of {@code repoId} at {@code main}. */
    public Snapshot download(String repoId) throws HubException {
        return download(repoId, DEFAULT_REVISION, null);
    }

    /**
     * Downloads a snapshot.
     *
     * @param repoId e.g. {@code HuggingFaceTB/SmolVLM-256M-Instruct} (a dataset: {@code openbmb/RLHF-V-Dataset})
     * @param revision branch, tag or commit; null means {@code main}
     * @param wanted the files to fetch, or null for every file the API lists
     * @return the complete snapshot
     * @throws HubException with a message for the user (see {@link HubException.Kind})
     */
    public Snapshot download(String repoId, String revision, List<WantedFile> wanted) throws HubException {
        validateRepoId(repoId);
        String rev = revision == null || revision.isBlank() ? DEFAULT_REVISION : revision.strip();
        if (wanted != null) {
            for (WantedFile w : wanted) {
                validateFileName(w.name());
            }
        }
        if (HEX40.matcher(rev).matches()) {
            Optional<Snapshot> cached = cachedSnapshot(repoId, rev, wanted);
            if (cached.isPresent()) {
                return cached.get();
            }
        }
        RepoInfo info;
        try {
            info = repoInfo(repoId, rev);
        } catch (HubException e) {
            if (e.kind() == HubException.Kind.OFFLINE && offlineFallback) {
                Optional<Snapshot> cached = cachedSnapshot(repoId, rev, wanted);
                if (cached.isPresent()) {
                    return cached.get();
                }
            }
            throw e;
        }
        String commit = info.sha() != null ? info.sha() : rev;

        record Item(String name, boolean optional, LfsPointer expected, long listedSize) {}
        List<Item> items = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        if (wanted == null) {
            for (RepoInfo.RemoteFile f : info.files()) {
                validateFileName(f.name());
                items.add(new Item(f.name(), false, pointerOf(f), f.size()));
            }
        } else {
            for (WantedFile w : wanted) {
                Optional<RepoInfo.RemoteFile> remote = info.file(w.name());
                if (remote.isEmpty() && !info.files().isEmpty()) {
                    if (w.optional()) {
                        skipped.add(w.name());
                        continue;
                    }
                    throw new HubException(HubException.Kind.NOT_FOUND, "file " + w.name() + " not found in "
                            + named(repoId) + " at revision " + rev + " (the " + repoType.noun() + " has: "
                            + listing(info) + ")");
                }
                LfsPointer expected = w.expected() != null ? w.expected() : remote.map(HubDownloader::pointerOf).orElse(null);
                items.add(new Item(w.name(), w.optional(), expected, remote.map(RepoInfo.RemoteFile::size).orElse(-1L)));
            }
        }

        Path dir = snapshotDir(repoId, commit);
        List<String> present = new ArrayList<>();
        long transferred = 0;
        for (Item it : items) {
            long n = fetchFile(repoId, commit, it.name(), dir.resolve(it.name()), it.expected(), it.listedSize(), it.optional());
            if (n < 0) {
                skipped.add(it.name());
            } else {
                present.add(it.name());
                transferred += n;
            }
        }
        writeMarker(repoId, commit, present, skipped, wanted == null);
        if (!rev.equals(commit)) {
            writeAtomically(repoDir(repoId).resolve("refs").resolve(safeRef(rev)), commit + "\n");
        }
        return new Snapshot(repoId, rev, commit, dir, present, skipped, transferred);
    }

    /**
     * A complete snapshot already in the cache, without touching the network: the revision is resolved
     * through {@code refs/{revision}} (or taken as a commit), and every wanted file (every file, when
     * {@code wanted} is null and the snapshot was a full one) must be there or known to be absent upstream.
     */
    public Optional<Snapshot> cachedSnapshot(String repoId, String revision, List<WantedFile> wanted) {
        validateRepoIdUnchecked(repoId);
        String rev = revision == null || revision.isBlank() ? DEFAULT_REVISION : revision.strip();
        Path repo = repoDir(repoId);
        String commit = rev;
        try {
            Path ref = repo.resolve("refs").resolve(safeRef(rev));
            if (Files.isRegularFile(ref)) {
                commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            }
            Path marker = repo.resolve("complete").resolve(safeRef(commit));
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
            } else {
                for (WantedFile w : wanted) {
                    if (!files.contains(w.name()) && !skipped.contains(w.name())) {
                        return Optional.empty();
                    }
                }
            }
            List<String> keepFiles = files;
            List<String> keepSkipped = skipped;
            if (wanted != null) {
                Set<String> names = new LinkedHashSet<>();
                wanted.forEach(w -> names.add(w.name()));
                keepFiles = files.stream().filter(names::contains).toList();
                keepSkipped = skipped.stream().filter(names::contains).toList();
            }
            return Optional.of(new Snapshot(repoId, rev, commit, dir, keepFiles, keepSkipped, 0));
        } catch (IOException | UncheckedIOException e) {
            return Optional.empty();
        }
    }

    /**
     * {@code GET {endpoint}/api/models/{repoId}/revision/{revision}?blobs=true} ({@code /api/datasets/...} for
     * {@link RepoType#DATASET}).
     */
    public RepoInfo repoInfo(String repoId, String revision) throws HubException {
        validateRepoId(repoId);
        String rev = revision == null || revision.isBlank() ? DEFAULT_REVISION : revision.strip();
        URI uri = URI.create(base() + "/api/" + repoType.apiSegment() + "/" + repoId + "/revision/"
                + encodeSegment(rev) + "?blobs=true");
        Exchange ex = open(uri, null, "the file list of " + named(repoId));
        byte[] body;
        try (InputStream in = ex.response.body()) {
            int sc = ex.response.statusCode();
            if (sc != 200) {
                throw httpError(sc, ex.response.headers(), readSome(in), repoId, rev, null);
            }
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            copy(in, buf, "the file list of " + named(repoId), n -> {});
            body = buf.toByteArray();
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            throw new HubException(HubException.Kind.OFFLINE, "reading the file list of " + named(repoId)
                    + " failed: " + e, e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new HubException(HubException.Kind.HTTP, "the hub's answer for " + uri + " is not JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new HubException(HubException.Kind.HTTP, "the hub's answer for " + uri + " is not a JSON object");
        }
        String sha = root.path("sha").isTextual() ? root.path("sha").asText().toLowerCase(Locale.ROOT) : null;
        if (sha != null && !HEX40.matcher(sha).matches()) {
            sha = null;
        }
        List<RepoInfo.RemoteFile> files = new ArrayList<>();
        for (JsonNode s : root.path("siblings")) {
            String name = s.path("rfilename").asText(null);
            if (name == null || name.isEmpty()) {
                continue;
            }
            long size = s.path("size").canConvertToLong() ? s.path("size").asLong() : -1;
            JsonNode lfs = s.path("lfs");
            String lfsSha = lfs.path("sha256").isTextual() ? lfs.path("sha256").asText().toLowerCase(Locale.ROOT) : null;
            if (lfsSha != null && !HEX64.matcher(lfsSha).matches()) {
                lfsSha = null;
            }
            if (lfs.path("size").canConvertToLong()) {
                size = lfs.path("size").asLong();
            }
            files.add(new RepoInfo.RemoteFile(name, size, lfsSha));
        }
        return new RepoInfo(repoId, rev, sha, files);
    }

    /**
     * Downloads one file to {@code target} (resuming {@code target.incomplete}), verifies it and renames it
     * into place. An existing {@code target} of the expected size is kept.
     *
     * @param revision branch, tag or (best) commit
     * @param expected expected sha256/size, or null (then a {@code target.lfs-pointer} file or the hub's
     *     headers are used)
     * @param listedSize size from the API listing, or -1
     * @param optional a 404 returns -1 instead of throwing
     * @return bytes transferred (0 when the file was already there), or -1 for a missing optional file
     */
    public long fetchFile(String repoId, String revision, String name, Path target, LfsPointer expected,
            long listedSize, boolean optional) throws HubException {
        validateRepoId(repoId);
        validateFileName(name);
        try {
            Files.createDirectories(target.toAbsolutePath().getParent());
            Path pointerFile = target.resolveSibling(target.getFileName() + POINTER);
            if (expected == null && Files.isRegularFile(pointerFile)) {
                try {
                    expected = LfsPointer.read(pointerFile);
                } catch (IllegalArgumentException e) {
                    throw new HubException(HubException.Kind.INVALID, e.getMessage(), e);
                }
            }
            long knownSize = expected != null ? expected.size() : listedSize;
            if (Files.isRegularFile(target) && (knownSize < 0 || Files.size(target) == knownSize)) {
                long size = Files.size(target);
                progress.update(name, size, size);
                return 0;
            }
            Path part = target.resolveSibling(target.getFileName() + INCOMPLETE);
            URI uri = URI.create(base() + "/" + repoType.urlPrefix() + repoId + "/resolve/" + encodeSegment(revision)
                    + "/" + encodePath(name));
            String what = name + " from " + named(repoId);
            Exchange ex = null;
            long transferred = 0;
            long total = -1;
            for (int attempt = 0; attempt < 3 && ex == null; attempt++) {
                long offset = Files.isRegularFile(part) ? Files.size(part) : 0;
                if (knownSize >= 0 && offset > knownSize) {
                    Files.delete(part);
                    offset = 0;
                }
                Exchange e = open(uri, offset > 0 ? "bytes=" + offset + "-" : null, what);
                try (InputStream body = e.response.body()) {
                    int sc = e.response.statusCode();
                    HttpHeaders h = e.response.headers();
                    if (sc == 416 && offset > 0) {
                        // the .incomplete file may already hold everything
                        long t = h.firstValue("Content-Range").map(CONTENT_RANGE_416::matcher)
                                .filter(Matcher::matches).map(m -> Long.parseLong(m.group(1))).orElse(-1L);
                        long expect = t >= 0 ? t : e.linkedSize >= 0 ? e.linkedSize : knownSize;
                        if (expect == offset) {
                            ex = e;
                            total = offset;
                            break;
                        }
                        Files.delete(part);
                        continue;
                    }
                    if (sc == 404 && optional) {
                        Files.deleteIfExists(part);
                        progress.update(name, 0, 0);
                        return -1;
                    }
                    if (sc != 200 && sc != 206) {
                        throw httpError(sc, h, readSome(body), repoId, revision, name);
                    }
                    boolean append = false;
                    if (sc == 206) {
                        Matcher m = CONTENT_RANGE.matcher(h.firstValue("Content-Range").orElse(""));
                        if (offset == 0 || !m.matches() || Long.parseLong(m.group(1)) != offset) {
                            Files.deleteIfExists(part); // an answer for a range we did not ask: start over
                            continue;
                        }
                        append = true;
                        total = m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3));
                    } else {
                        offset = 0; // a 200 to a Range request: the server restarts from zero
                        long len = h.firstValueAsLong("Content-Length").orElse(-1);
                        total = len;
                    }
                    if (total < 0) {
                        total = e.linkedSize >= 0 ? e.linkedSize : knownSize;
                    }
                    long start = offset;
                    long shownTotal = total;
                    progress.update(name, start, shownTotal);
                    OutputStream raw;
                    try {
                        raw = append
                                ? Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.APPEND)
                                : Files.newOutputStream(part, StandardOpenOption.CREATE,
                                        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
                    } catch (IOException io) {
                        throw new HubException(HubException.Kind.IO, "cannot write " + part + ": " + io, io);
                    }
                    try (OutputStream out = new BufferedOutputStream(raw, 1 << 16)) {
                        transferred = copy(body, out, what, n -> progress.update(name, start + n, shownTotal));
                    }
                    ex = e;
                }
            }
            if (ex == null) {
                throw new HubException(HubException.Kind.HTTP, "the server kept answering resume requests for "
                        + what + " with the wrong range; delete " + part + " and retry");
            }
            verify(part, name, target, expected, ex, listedSize, total);
            moveIntoPlace(part, target);
            long size = Files.size(target);
            progress.update(name, size, size);
            return transferred;
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            throw new HubException(HubException.Kind.IO, "local file error for " + target + ": " + e, e);
        }
    }

    /** {@code {cache}/models--{org}--{name}} ({@code datasets--{org}--{name}} for {@link RepoType#DATASET}). */
    public Path repoDir(String repoId) {
        validateRepoIdUnchecked(repoId);
        return cacheDir.resolve(repoType.cachePrefix() + repoId.replace("/", "--"));
    }

    /** {@code {cache}/models--{org}--{name}/snapshots/{commit}} (or {@code datasets--...}). */
    public Path snapshotDir(String repoId, String commit) {
        return repoDir(repoId).resolve("snapshots").resolve(safeRef(commit));
    }

    // ---------------------------------------------------------------------------------------------
    // verification

    private void verify(Path part, String name, Path target, LfsPointer expected, Exchange ex, long listedSize,
            long transferTotal) throws IOException {
        long actualSize = Files.size(part);
        String sizeSource;
        long expectedSize;
        if (expected != null) {
            expectedSize = expected.size();
            sizeSource = "git-lfs pointer";
        } else if (ex.linkedSize >= 0) {
            expectedSize = ex.linkedSize;
            sizeSource = "X-Linked-Size";
        } else if (listedSize >= 0) {
            expectedSize = listedSize;
            sizeSource = "the hub's file list";
        } else {
            expectedSize = transferTotal;
            sizeSource = "Content-Length";
        }
        if (expectedSize >= 0 && actualSize < expectedSize) {
            throw new HubException(HubException.Kind.OFFLINE, "download of " + name + " stopped at " + actualSize
                    + " of " + expectedSize + " bytes; run again to resume from " + part);
        }
        if (expectedSize >= 0 && actualSize > expectedSize) {
            Files.deleteIfExists(part);
            throw new HubException(HubException.Kind.INTEGRITY, "size mismatch for " + name + ": expected "
                    + expectedSize + " bytes (" + sizeSource + "), got " + actualSize + "; the download was deleted");
        }
        String sha256 = null;
        String sha256Source = null;
        if (expected != null) {
            sha256 = expected.sha256();
            sha256Source = "git-lfs pointer";
        } else if (ex.linkedEtag != null && HEX64.matcher(ex.linkedEtag).matches()) {
            sha256 = ex.linkedEtag;
            sha256Source = "X-Linked-Etag";
        } else if (ex.hubEtag != null && HEX64.matcher(ex.hubEtag).matches()) {
            sha256 = ex.hubEtag;
            sha256Source = "ETag";
        }
        String gitSha1 = sha256 == null && ex.hubEtag != null && HEX40.matcher(ex.hubEtag).matches() ? ex.hubEtag : null;
        if (sha256 == null && gitSha1 == null) {
            return;
        }
        MessageDigest d256 = digest("SHA-256");
        MessageDigest dGit = digest("SHA-1");
        MessageDigest dSha1 = digest("SHA-1");
        dGit.update(("blob " + actualSize + "\0").getBytes(StandardCharsets.US_ASCII));
        try (InputStream in = Files.newInputStream(part)) {
            byte[] buf = new byte[1 << 16];
            int r;
            while ((r = in.read(buf)) >= 0) {
                if (sha256 != null) {
                    d256.update(buf, 0, r);
                } else {
                    dGit.update(buf, 0, r);
                    dSha1.update(buf, 0, r);
                }
            }
        }
        HexFormat hex = HexFormat.of();
        if (sha256 != null) {
            String actual = hex.formatHex(d256.digest());
            if (!actual.equals(sha256)) {
                Files.deleteIfExists(part);
                throw new HubException(HubException.Kind.INTEGRITY, "sha256 mismatch for " + name + ": expected "
                        + sha256 + " (" + sha256Source + "), got " + actual + "; the corrupt download was deleted, "
                        + target + " was not written");
            }
        } else {
            String git = hex.formatHex(dGit.digest());
            String plain = hex.formatHex(dSha1.digest());
            if (!git.equals(gitSha1) && !plain.equals(gitSha1)) {
                Files.deleteIfExists(part);
                throw new HubException(HubException.Kind.INTEGRITY, "git sha1 mismatch for " + name + ": expected "
                        + gitSha1 + " (ETag), got " + git + "; the corrupt download was deleted, " + target
                        + " was not written");
            }
        }
    }

    private static MessageDigest digest(String alg) {
        try {
            return MessageDigest.getInstance(alg);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static LfsPointer pointerOf(RepoInfo.RemoteFile f) {
        if (f.lfsSha256() == null || f.size() < 0) {
            return null;
        }
        return new LfsPointer(f.lfsSha256(), f.size());
    }

    // ---------------------------------------------------------------------------------------------
    // HTTP

    /** A final (non-redirect) response, with the hub's headers gathered along the redirect chain. */
    private record Exchange(HttpResponse<InputStream> response, String linkedEtag, long linkedSize, String hubEtag,
            String repoCommit) {}

    private Exchange open(URI uri, String range, String what) throws HubException {
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
                linkedEtag = h.firstValue("X-Linked-Etag").map(HubDownloader::normalizeEtag).orElse(null);
            }
            if (linkedSize < 0) {
                linkedSize = h.firstValue("X-Linked-Size").map(HubDownloader::parseLongOrMinus).orElse(-1L);
            }
            if (hubEtag == null && toHub) {
                hubEtag = h.firstValue("ETag").map(HubDownloader::normalizeEtag).orElse(null);
            }
            if (commit == null) {
                commit = h.firstValue("X-Repo-Commit").orElse(null);
            }
            int sc = r.statusCode();
            if (sc == 301 || sc == 302 || sc == 303 || sc == 307 || sc == 308) {
                closeQuietly(r.body());
                String location = h.firstValue("Location").orElse(null);
                if (location == null) {
                    throw new HubException(HubException.Kind.HTTP, "redirect without Location for " + what + " at " + current);
                }
                if (hop >= MAX_REDIRECTS) {
                    throw new HubException(HubException.Kind.HTTP, "too many redirects for " + what + " (last: " + current + ")");
                }
                try {
                    current = current.resolve(location);
                } catch (IllegalArgumentException e) {
                    throw new HubException(HubException.Kind.HTTP, "bad redirect Location for " + what + ": " + location, e);
                }
                if (!"http".equalsIgnoreCase(current.getScheme()) && !"https".equalsIgnoreCase(current.getScheme())) {
                    throw new HubException(HubException.Kind.HTTP, "redirect to a non-HTTP location for " + what + ": " + location);
                }
                continue;
            }
            return new Exchange(r, linkedEtag, linkedSize, hubEtag, commit);
        }
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

    private HubException httpError(int status, HttpHeaders h, String body, String repoId, String revision,
            String file) {
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
        String subject = file == null ? named(repoId) + " (revision " + revision + ")"
                : file + " in " + named(repoId) + " (revision " + revision + ")";
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
                    msg = "revision " + revision + " not found in " + named(repoId);
                } else if (file != null) {
                    msg = "file " + file + " not found in " + named(repoId) + " at revision " + revision;
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

    private static String readSome(InputStream in) {
        try {
            return new String(in.readNBytes(2048), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static final class Watchdog {
        static final ScheduledExecutorService EXEC = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "hub-download-watchdog");
            t.setDaemon(true);
            return t;
        });
    }

    /** Copies with a stall watchdog: a pause longer than the read timeout closes the stream. */
    private long copy(InputStream in, OutputStream out, String what, LongConsumer onChunk) throws HubException {
        AtomicLong last = new AtomicLong(System.nanoTime());
        AtomicBoolean stalled = new AtomicBoolean();
        long limit = readTimeout.toNanos();
        long period = Math.max(10_000_000L, limit / 4);
        ScheduledFuture<?> watch = Watchdog.EXEC.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - last.get() > limit && stalled.compareAndSet(false, true)) {
                closeQuietly(in);
            }
        }, period, period, TimeUnit.NANOSECONDS);
        long n = 0;
        try {
            byte[] buf = new byte[1 << 16];
            while (true) {
                int r;
                try {
                    r = in.read(buf);
                } catch (IOException e) {
                    if (stalled.get()) {
                        throw stall(what);
                    }
                    throw new HubException(HubException.Kind.OFFLINE, "connection lost while downloading " + what
                            + " after " + n + " bytes (" + e + "); run again to resume", e);
                }
                if (r < 0) {
                    break;
                }
                last.set(System.nanoTime());
                try {
                    out.write(buf, 0, r);
                } catch (IOException e) {
                    throw new HubException(HubException.Kind.IO, "cannot write " + what + ": " + e, e);
                }
                n += r;
                onChunk.accept(n);
            }
            if (stalled.get()) {
                throw stall(what);
            }
            try {
                out.flush();
            } catch (IOException e) {
                throw new HubException(HubException.Kind.IO, "cannot write " + what + ": " + e, e);
            }
            return n;
        } finally {
            watch.cancel(false);
        }
    }

    private HubException stall(String what) {
        return new HubException(HubException.Kind.OFFLINE, "no data for " + readTimeout.toMillis() + " ms while downloading "
                + what + " (read timeout); run again to resume, or offline? pass a local folder instead");
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    private String base() {
        return endpoint.toString();
    }

    /** The repository id as messages name it: {@code org/name} for models, {@code dataset org/name} for datasets. */
    private String named(String repoId) {
        return repoType == RepoType.MODEL ? repoId : repoType.noun() + " " + repoId;
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

    static String encodeSegment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

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

    /** A revision or commit as one safe folder/file name. */
    private static String safeRef(String ref) {
        String s = encodeSegment(ref);
        if (s.equals(".") || s.equals("..") || s.isEmpty()) {
            throw new IllegalArgumentException("bad revision: '" + ref + "'");
        }
        return s;
    }

    private void validateRepoId(String repoId) throws HubException {
        try {
            validateRepoIdUnchecked(repoId);
        } catch (IllegalArgumentException e) {
            throw new HubException(HubException.Kind.INVALID, e.getMessage(), e);
        }
    }

    private void validateRepoIdUnchecked(String repoId) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--") || repoId.contains("..")) {
            throw new IllegalArgumentException("not a hub " + repoType.noun() + " id (expected org/name, e.g. "
                    + repoType.example() + "): " + repoId);
        }
    }

    private static void validateFileName(String name) throws HubException {
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

    private static String listing(RepoInfo info) {
        List<String> names = info.files().stream().map(RepoInfo.RemoteFile::name).toList();
        return names.size() <= 30 ? String.join(", ", names) : String.join(", ", names.subList(0, 30)) + ", ...";
    }

    private void writeMarker(String repoId, String commit, List<String> files, List<String> skipped, boolean all)
            throws HubException {
        StringBuilder sb = new StringBuilder();
        if (all) {
            sb.append("all\n");
        }
        files.forEach(f -> sb.append("file ").append(f).append('\n'));
        skipped.forEach(f -> sb.append("skipped ").append(f).append('\n'));
        writeAtomically(repoDir(repoId).resolve("complete").resolve(safeRef(commit)), sb.toString());
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

    private static void moveIntoPlace(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v.strip();
            }
        }
        return null;
    }
}
