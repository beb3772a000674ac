package dev.smoldpo.hf.hub;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Downloads a model or dataset repository snapshot from the Hugging Face hub (or a mirror) with plain
 * {@link java.net.http.HttpClient}: no git, no Python. The {@link RepoType} is chosen on the {@link Builder}
 * ({@link Builder#repoType}, default {@link RepoType#MODEL}); it only changes the URL paths, the cache folder
 * prefix and how error messages name the repository.
 *
 * <p>This class decides what to fetch and puts the pieces together; each job is done by its own class:
 * {@link HubApiClient} (the HTTP contract: file list, resolve URLs, redirects, the token only to the hub,
 * error messages), {@link HubCacheLayout} (the folders on disk, refs, completion markers, offline reuse),
 * {@link ResumableTransfer} (one file through {@code .incomplete} with range requests) and
 * {@link DownloadVerifier} (sha256 / size checks).
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

    /**
     * The files SmolVLM needs. Required: config.json, model.safetensors, and the image processor's
     * preprocessor_config.json and processor_config.json, which the export checks against config.json (a
     * download without them would only fail later, at export).
     */
    public static final List<WantedFile> SMOLVLM_FILES = List.of(
            WantedFile.required("config.json"),
            WantedFile.required("model.safetensors"),
            WantedFile.required("tokenizer.json"),
            WantedFile.optional("tokenizer_config.json"),
            WantedFile.optional("special_tokens_map.json"),
            WantedFile.optional("added_tokens.json"),
            WantedFile.optional("chat_template.json"),
            WantedFile.required("preprocessor_config.json"),
            WantedFile.required("processor_config.json"),
            WantedFile.optional("generation_config.json"));

    private final HubApiClient api;
    private final HubCacheLayout cache;
    private final ResumableTransfer transfer;
    private final boolean offlineFallback;

    private HubDownloader(Builder b) {
        Map<String, String> env = b.env != null ? b.env : System.getenv();
        URI endpoint = endpointUri(firstNonBlank(b.endpoint, env.get("HF_ENDPOINT"), DEFAULT_ENDPOINT));
        String token = firstNonBlank(b.token, env.get("HF_TOKEN"), env.get("HUGGING_FACE_HUB_TOKEN"));
        this.cache = new HubCacheLayout(Objects.requireNonNull(b.cacheDir, "cacheDir"), b.repoType);
        this.api = new HubApiClient(endpoint, token, b.userAgent, b.connectTimeout, b.readTimeout, b.repoType);
        this.transfer = new ResumableTransfer(api, b.progress);
        this.offlineFallback = b.offlineFallback;
    }

    private static URI endpointUri(String configured) {
        String ep = configured.strip();
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
        return uri;
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
        return HubCacheLayout.defaultCacheDir(env);
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
        return api.endpoint();
    }

    public Path cacheDir() {
        return cache.cacheDir();
    }

    /** The kind of repository this downloader fetches. */
    public RepoType repoType() {
        return api.repoType();
    }

    /** Whether a token will be sent. */
    public boolean hasToken() {
        return api.hasToken();
    }

    @Override
    public void close() {
        api.close();
    }

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
        HubNames.checkRepoId(repoType(), repoId);
        String rev = orDefault(revision);
        if (wanted != null) {
            for (WantedFile w : wanted) {
                HubNames.checkFileName(w.name());
            }
        }
        if (HubNames.SHA1_HEX.matcher(rev).matches()) {
            Optional<Snapshot> cached = cache.cachedSnapshot(repoId, rev, wanted);
            if (cached.isPresent()) {
                return cached.get(); // a commit never changes: no need to ask the hub
            }
        }
        RepoInfo info;
        try {
            info = api.repoInfo(repoId, rev);
        } catch (HubException e) {
            if (e.kind() == HubException.Kind.OFFLINE && offlineFallback) {
                Optional<Snapshot> cached = cache.cachedSnapshot(repoId, rev, wanted);
                if (cached.isPresent()) {
                    return cached.get();
                }
            }
            throw e;
        }
        String commit = info.sha() != null ? info.sha() : rev;
        List<String> skipped = new ArrayList<>();
        List<Item> items = itemsToFetch(info, wanted, skipped);

        Path dir = cache.snapshotDir(repoId, commit);
        List<String> present = new ArrayList<>();
        long transferred = 0;
        for (Item it : items) {
            long n = transfer.fetch(repoId, commit, it.name(), dir.resolve(it.name()), it.expected(), it.listedSize(),
                    it.optional());
            if (n < 0) {
                skipped.add(it.name());
            } else {
                present.add(it.name());
                transferred += n;
            }
        }
        cache.markComplete(repoId, commit, present, skipped, wanted == null);
        if (!rev.equals(commit)) {
            cache.writeRef(repoId, rev, commit);
        }
        return new Snapshot(repoId, rev, commit, dir, present, skipped, transferred);
    }

    /** One file to fetch, with what the listing says about it. */
    private record Item(String name, boolean optional, LfsPointer expected, long listedSize) {}

    /**
     * The files to fetch: every listed file, or the wanted ones; wanted optional files the listing lacks go to
     * {@code skipped}, a missing required one is an error naming what the repository has.
     */
    private List<Item> itemsToFetch(RepoInfo info, List<WantedFile> wanted, List<String> skipped) throws HubException {
        List<Item> items = new ArrayList<>();
        if (wanted == null) {
            for (RepoInfo.RemoteFile f : info.files()) {
                HubNames.checkFileName(f.name());
                items.add(new Item(f.name(), false, pointerOf(f), f.size()));
            }
            return items;
        }
        for (WantedFile w : wanted) {
            Optional<RepoInfo.RemoteFile> remote = info.file(w.name());
            if (remote.isEmpty() && !info.files().isEmpty()) {
                if (w.optional()) {
                    skipped.add(w.name());
                    continue;
                }
                throw new HubException(HubException.Kind.NOT_FOUND, "file " + w.name() + " not found in "
                        + repoType().named(info.repoId()) + " at revision " + info.revision() + " (the "
                        + repoType().noun() + " has: " + listing(info) + ")");
            }
            LfsPointer expected = w.expected() != null ? w.expected() : remote.map(HubDownloader::pointerOf).orElse(null);
            items.add(new Item(w.name(), w.optional(), expected, remote.map(RepoInfo.RemoteFile::size).orElse(-1L)));
        }
        return items;
    }

    /**
     * A complete snapshot already in the cache, without touching the network: the revision is resolved
     * through {@code refs/{revision}} (or taken as a commit), and every wanted file (every file, when
     * {@code wanted} is null and the snapshot was a full one) must be there or known to be absent upstream.
     */
    public Optional<Snapshot> cachedSnapshot(String repoId, String revision, List<WantedFile> wanted) {
        HubNames.requireRepoId(repoType(), repoId);
        return cache.cachedSnapshot(repoId, orDefault(revision), wanted);
    }

    /**
     * {@code GET {endpoint}/api/models/{repoId}/revision/{revision}?blobs=true} ({@code /api/datasets/...} for
     * {@link RepoType#DATASET}).
     */
    public RepoInfo repoInfo(String repoId, String revision) throws HubException {
        HubNames.checkRepoId(repoType(), repoId);
        return api.repoInfo(repoId, orDefault(revision));
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
        HubNames.checkRepoId(repoType(), repoId);
        HubNames.checkFileName(name);
        return transfer.fetch(repoId, revision, name, target, expected, listedSize, optional);
    }

    /** {@code {cache}/models--{org}--{name}} ({@code datasets--{org}--{name}} for {@link RepoType#DATASET}). */
    public Path repoDir(String repoId) {
        return cache.repoDir(repoId);
    }

    /** {@code {cache}/models--{org}--{name}/snapshots/{commit}} (or {@code datasets--...}). */
    public Path snapshotDir(String repoId, String commit) {
        return cache.snapshotDir(repoId, commit);
    }

    /** Same scheme, host and port (default ports filled in): whether the token may go to {@code a}. */
    static boolean sameOrigin(URI a, URI b) {
        return HubApiClient.sameOrigin(a, b);
    }

    /** An ETag without {@code W/} and quotes, lower-cased. */
    static String normalizeEtag(String raw) {
        return HubApiClient.normalizeEtag(raw);
    }

    private static String orDefault(String revision) {
        return revision == null || revision.isBlank() ? DEFAULT_REVISION : revision.strip();
    }

    private static LfsPointer pointerOf(RepoInfo.RemoteFile f) {
        if (f.lfsSha256() == null || f.size() < 0) {
            return null;
        }
        return new LfsPointer(f.lfsSha256(), f.size());
    }

    private static String listing(RepoInfo info) {
        List<String> names = info.files().stream().map(RepoInfo.RemoteFile::name).toList();
        return names.size() <= 30 ? String.join(", ", names) : String.join(", ", names.subList(0, 30)) + ", ...";
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
