package dev.smoldpo.hf.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(20)
class HubDownloaderTest {
    static final String REPO = "HuggingFaceTB/SmolVLM-256M-Instruct";
    static final String SHA = "0123456789abcdef0123456789abcdef01234567";
    static final String PRIVATE = "acme/private-model";
    static final String PRIVATE_SHA = "fedcba9876543210fedcba9876543210fedcba98";

    @TempDir
    Path cache;

    FakeHub hub;
    byte[] weights;
    byte[] config;
    byte[] tokenizer;

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        weights = new byte[300_000];
        new Random(42).nextBytes(weights);
        config = "{\"model_type\":\"idefics3\"}".getBytes(StandardCharsets.UTF_8);
        tokenizer = "{\"version\":\"1.0\",\"model\":{}}".getBytes(StandardCharsets.UTF_8);
        hub.add(new FakeHub.Repo(REPO, SHA)
                .file("config.json", config)
                .lfsFile("model.safetensors", weights)
                .file("tokenizer.json", tokenizer)
                .file("onnx/vision encoder.onnx", new byte[] {1, 2, 3}));
        FakeHub.Repo priv = new FakeHub.Repo(PRIVATE, PRIVATE_SHA)
                .file("config.json", config)
                .lfsFile("model.safetensors", weights);
        priv.requiredToken = "hf_secret";
        hub.add(priv);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    HubDownloader.Builder builder() {
        return HubDownloader.builder(cache)
                .env(Map.of())
                .endpoint(hub.hubUrl())
                .connectTimeout(Duration.ofSeconds(2))
                .readTimeout(Duration.ofSeconds(3));
    }

    Path snapshot(String repo, String sha) {
        return cache.resolve("models--" + repo.replace("/", "--")).resolve("snapshots").resolve(sha);
    }

    static List<Path> leftovers(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".incomplete")).toList();
        }
    }

    @Test
    void downloadsEveryListedFileIntoTheSnapshotFolder() throws IOException {
        List<String> events = new CopyOnWriteArrayList<>();
        try (HubDownloader d = builder().progress((f, done, total) -> events.add(f + " " + done + "/" + total)).build()) {
            Snapshot s = d.download(REPO);
            Path dir = snapshot(REPO, SHA);
            assertEquals(dir, s.dir());
            assertEquals(SHA, s.commit());
            assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json", "onnx/vision encoder.onnx"), s.files());
            assertArrayEquals(config, Files.readAllBytes(dir.resolve("config.json")));
            assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
            assertArrayEquals(tokenizer, Files.readAllBytes(dir.resolve("tokenizer.json")));
            assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(dir.resolve("onnx/vision encoder.onnx")));
            assertEquals(List.of(), leftovers(cache));
            assertEquals(SHA, Files.readString(cache.resolve("models--HuggingFaceTB--SmolVLM-256M-Instruct/refs/main")).strip());
            assertTrue(events.contains("model.safetensors 300000/300000"), events.toString());
            // resolve URLs are pinned to the commit the API returned
            assertTrue(hub.seenBy("hub").stream().anyMatch(r -> r.path().equals("/" + REPO + "/resolve/" + SHA + "/model.safetensors")));
            assertEquals(weights.length, hub.cdnBodyBytes.get());

            // a second call finds everything in place and transfers nothing
            Snapshot again = d.download(REPO);
            assertEquals(0, again.downloadedBytes());
            assertEquals(weights.length, hub.cdnBodyBytes.get());
            assertTrue(d.cachedSnapshot(REPO, "main", null).isPresent());
        }
    }

    /** Adds the image processor files {@link HubDownloader#SMOLVLM_FILES} requires to {@link #REPO} (which has tokenizer.json). */
    void addProcessorConfigs() {
        hub.repos.get(REPO)
                .file("preprocessor_config.json", "{\"max_image_size\":{\"longest_edge\":512}}".getBytes(StandardCharsets.UTF_8))
                .file("processor_config.json", "{\"image_seq_len\":64}".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void smolvlmFilesRequireTheImageProcessorConfigs() throws IOException {
        for (String name : List.of("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
                "processor_config.json")) {
            assertTrue(HubDownloader.SMOLVLM_FILES.contains(WantedFile.required(name)), name);
        }
        try (HubDownloader d = builder().build()) {
            HubException e = assertThrows(HubException.class, () -> d.download(REPO, "main", HubDownloader.SMOLVLM_FILES));
            assertEquals(HubException.Kind.NOT_FOUND, e.kind());
            assertTrue(e.getMessage().contains("file preprocessor_config.json not found in " + REPO), e.getMessage());
            assertTrue(d.cachedSnapshot(REPO, "main", HubDownloader.SMOLVLM_FILES).isEmpty());

            hub.repos.get(REPO).file("preprocessor_config.json", "{}".getBytes(StandardCharsets.UTF_8));
            HubException p = assertThrows(HubException.class, () -> d.download(REPO, "main", HubDownloader.SMOLVLM_FILES));
            assertTrue(p.getMessage().contains("file processor_config.json not found in " + REPO), p.getMessage());
        }
    }

    @Test
    void explicitListSkipsOptionalFilesTheRepoLacks() throws IOException {
        addProcessorConfigs();
        try (HubDownloader d = builder().build()) {
            Snapshot s = d.download(REPO, "main", HubDownloader.SMOLVLM_FILES);
            assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
                    "processor_config.json"), s.files());
            assertTrue(s.skipped().contains("chat_template.json"));
            assertFalse(Files.exists(s.dir().resolve("onnx")), "files not asked for are not fetched");
            assertTrue(hub.seenBy("hub").stream().noneMatch(r -> r.path().contains("chat_template")),
                    "absent optional files are known from the listing and never requested");
            assertTrue(d.cachedSnapshot(REPO, "main", HubDownloader.SMOLVLM_FILES).isPresent());
            assertTrue(d.cachedSnapshot(REPO, "main", null).isEmpty(), "a partial snapshot is not a full one");

            HubException e = assertThrows(HubException.class,
                    () -> d.download(REPO, "main", List.of(WantedFile.required("pytorch_model.bin"))));
            assertEquals(HubException.Kind.NOT_FOUND, e.kind());
            assertTrue(e.getMessage().contains("pytorch_model.bin") && e.getMessage().contains(REPO), e.getMessage());
        }
    }

    @Test
    void resumesFromAnIncompleteFileAskingOnlyForTheRest() throws IOException {
        Path dir = snapshot(REPO, SHA);
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.safetensors.incomplete"), java.util.Arrays.copyOf(weights, 100_000));
        List<Long> firstDone = new ArrayList<>();
        try (HubDownloader d = builder().progress((f, done, total) -> {
            if (f.equals("model.safetensors") && firstDone.isEmpty()) {
                firstDone.add(done);
            }
        }).build()) {
            Snapshot s = d.download(REPO, "main", List.of(WantedFile.required("model.safetensors")));
            assertArrayEquals(weights, Files.readAllBytes(s.dir().resolve("model.safetensors")));
            assertEquals(200_000, s.downloadedBytes());
        }
        assertEquals(200_000, hub.cdnBodyBytes.get(), "only the missing bytes were sent");
        assertEquals(List.of("bytes=100000-"), hub.seenBy("cdn").stream().map(FakeHub.Seen::range).toList());
        assertEquals(List.of(100_000L), firstDone);
        assertEquals(List.of(), leftovers(cache));
    }

    @Test
    void restartsFromZeroWhenTheServerIgnoresRange() throws IOException {
        hub.cdnIgnoresRange = true;
        Path dir = snapshot(REPO, SHA);
        Files.createDirectories(dir);
        byte[] junk = new byte[50_000]; // wrong bytes: must be overwritten, not appended to
        Files.write(dir.resolve("model.safetensors.incomplete"), junk);
        try (HubDownloader d = builder().build()) {
            Snapshot s = d.download(REPO, "main", List.of(WantedFile.required("model.safetensors")));
            assertArrayEquals(weights, Files.readAllBytes(s.dir().resolve("model.safetensors")));
        }
        assertEquals(weights.length, hub.cdnBodyBytes.get());
    }

    @Test
    void anAlreadyCompleteIncompleteFileIsVerifiedAndKept() throws IOException {
        Path dir = snapshot(REPO, SHA);
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.safetensors.incomplete"), weights);
        try (HubDownloader d = builder().build()) {
            Snapshot s = d.download(REPO, "main", List.of(WantedFile.required("model.safetensors")));
            assertArrayEquals(weights, Files.readAllBytes(s.dir().resolve("model.safetensors")));
        }
        assertEquals(0, hub.cdnBodyBytes.get());
    }

    @Test
    void wrongHashFailsNamingFileAndHashesAndLeavesNoFile() throws IOException {
        hub.corruptCdn = true;
        hub.apiLfsInfo = false; // the expected hash then comes from X-Linked-Etag
        String expected = FakeHub.sha256(weights);
        try (HubDownloader d = builder().build()) {
            HubException e = assertThrows(HubException.class, () -> d.download(REPO));
            assertEquals(HubException.Kind.INTEGRITY, e.kind());
            String m = e.getMessage();
            assertTrue(m.contains("model.safetensors") && m.contains(expected) && m.contains("X-Linked-Etag"), m);
            byte[] bad = weights.clone();
            bad[bad.length / 2] ^= 0x5a;
            assertTrue(m.contains(FakeHub.sha256(bad)), m);
            assertFalse(Files.exists(snapshot(REPO, SHA).resolve("model.safetensors")));
            assertEquals(List.of(), leftovers(cache));
            assertTrue(d.cachedSnapshot(REPO, "main", null).isEmpty(), "no completion marker");
        }
    }

    @Test
    void gitLfsPointerIsTheExpectedHashWhenGiven() throws IOException {
        LfsPointer wrong = new LfsPointer("ab".repeat(32), weights.length);
        try (HubDownloader d = builder().build()) {
            HubException e = assertThrows(HubException.class, () -> d.download(REPO, "main",
                    List.of(WantedFile.required("model.safetensors").withExpected(wrong))));
            assertEquals(HubException.Kind.INTEGRITY, e.kind());
            assertTrue(e.getMessage().contains("ab".repeat(32)) && e.getMessage().contains("git-lfs pointer"), e.getMessage());
            assertFalse(Files.exists(snapshot(REPO, SHA).resolve("model.safetensors")));

            // a .lfs-pointer file next to the target is used too
            Path dir = snapshot(REPO, SHA);
            LfsPointer right = new LfsPointer(FakeHub.sha256(weights), weights.length);
            Files.writeString(dir.resolve("model.safetensors.lfs-pointer"), right.text());
            long n = d.fetchFile(REPO, SHA, "model.safetensors", dir.resolve("model.safetensors"), null, -1, false);
            assertEquals(weights.length, n);
            Files.writeString(dir.resolve("config.json.lfs-pointer"), wrong.text().replace("size " + weights.length, "size " + config.length));
            HubException e2 = assertThrows(HubException.class,
                    () -> d.fetchFile(REPO, SHA, "config.json", dir.resolve("config.json"), null, -1, false));
            assertTrue(e2.getMessage().contains("config.json"), e2.getMessage());
            assertFalse(Files.exists(dir.resolve("config.json")));
        }
    }

    @Test
    void tokenGoesToTheHubButNotToTheCdnOnAnotherPort() throws IOException {
        try (HubDownloader d = builder().token("hf_secret").build()) {
            Snapshot s = d.download(PRIVATE);
            assertArrayEquals(weights, Files.readAllBytes(s.dir().resolve("model.safetensors")));
        }
        List<FakeHub.Seen> hubSeen = hub.seenBy("hub");
        List<FakeHub.Seen> cdnSeen = hub.seenBy("cdn");
        assertFalse(cdnSeen.isEmpty());
        assertTrue(hubSeen.stream().allMatch(r -> "Bearer hf_secret".equals(r.authorization())), hubSeen.toString());
        assertTrue(cdnSeen.stream().allMatch(r -> r.authorization() == null), cdnSeen.toString());
    }

    static final String DATASET = "openbmb/RLHF-V-Dataset";
    static final String DATASET_SHA = "89abcdef0123456789abcdef0123456789abcdef";
    static final String PARQUET = "data/train-00000-of-00001.parquet";

    /** Adds {@link #DATASET}: a README and a parquet file stored in LFS (served via redirect to the CDN). */
    byte[] addDataset() {
        byte[] parquet = new byte[120_000];
        new Random(7).nextBytes(parquet);
        byte[] magic = "PAR1".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(magic, 0, parquet, 0, 4);
        System.arraycopy(magic, 0, parquet, parquet.length - 4, 4);
        hub.add(FakeHub.Repo.dataset(DATASET, DATASET_SHA)
                .file("README.md", "---\nlicense: cc-by-nc-4.0\n---\n# RLHF-V\n".getBytes(StandardCharsets.UTF_8))
                .lfsFile(PARQUET, parquet));
        return parquet;
    }

    @Test
    void defaultRepoTypeIsModel() {
        try (HubDownloader d = builder().build()) {
            assertEquals(RepoType.MODEL, d.repoType());
            assertEquals(cache.resolve("models--a--b"), d.repoDir("a/b"));
        }
        try (HubDownloader d = builder().repoType(RepoType.DATASET).build()) {
            assertEquals(RepoType.DATASET, d.repoType());
            assertEquals(cache.resolve("datasets--a--b"), d.repoDir("a/b"));
        }
        assertThrows(NullPointerException.class, () -> builder().repoType(null));
    }

    @Test
    void downloadsADatasetRepositoryIntoDatasetsFolder() throws IOException {
        byte[] parquet = addDataset();
        try (HubDownloader d = builder().repoType(RepoType.DATASET).build()) {
            Snapshot s = d.download(DATASET);
            Path repoDir = cache.resolve("datasets--openbmb--RLHF-V-Dataset");
            Path dir = repoDir.resolve("snapshots").resolve(DATASET_SHA);
            assertEquals(dir, s.dir());
            assertEquals(DATASET_SHA, s.commit());
            assertEquals(List.of("README.md", PARQUET), s.files());
            assertArrayEquals(parquet, Files.readAllBytes(dir.resolve(PARQUET)));
            assertTrue(Files.readString(dir.resolve("README.md")).contains("RLHF-V"));
            assertEquals(DATASET_SHA, Files.readString(repoDir.resolve("refs/main")).strip());
            assertTrue(Files.isRegularFile(repoDir.resolve("complete").resolve(DATASET_SHA)));
            assertFalse(Files.exists(cache.resolve("models--openbmb--RLHF-V-Dataset")), "nothing under models--");
            assertEquals(List.of(), leftovers(cache));

            List<String> hubPaths = hub.seenBy("hub").stream().map(FakeHub.Seen::path).toList();
            assertTrue(hubPaths.contains("/api/datasets/" + DATASET + "/revision/main"), hubPaths.toString());
            assertTrue(hubPaths.contains("/datasets/" + DATASET + "/resolve/" + DATASET_SHA + "/" + PARQUET), hubPaths.toString());
            assertTrue(hubPaths.stream().noneMatch(p -> p.startsWith("/api/models/")), hubPaths.toString());
            assertEquals(1, hub.seenBy("cdn").size(), "the parquet file came from the CDN via redirect");
            assertEquals(parquet.length, hub.cdnBodyBytes.get());

            // the second call finds everything in place, and the cache is keyed by the repo type
            assertEquals(0, d.download(DATASET).downloadedBytes());
            assertEquals(parquet.length, hub.cdnBodyBytes.get());
            assertTrue(d.cachedSnapshot(DATASET, "main", null).isPresent());
            assertTrue(d.cachedSnapshot(DATASET, "main", List.of(WantedFile.required(PARQUET))).isPresent());
        }
        try (HubDownloader models = builder().build()) {
            assertTrue(models.cachedSnapshot(DATASET, "main", null).isEmpty(), "a model downloader does not see datasets--");
            HubException e = assertThrows(HubException.class, () -> models.download(DATASET));
            assertEquals(HubException.Kind.NOT_FOUND, e.kind(), "the fake hub has no model of that name");
        }
    }

    @Test
    void datasetFilesCanBePickedAndServedOfflineFromTheCache() throws IOException {
        byte[] parquet = addDataset();
        List<WantedFile> wanted = List.of(WantedFile.required(PARQUET), WantedFile.optional("dataset_infos.json"));
        try (HubDownloader d = builder().repoType(RepoType.DATASET).build()) {
            Snapshot s = d.download(DATASET, "main", wanted);
            assertEquals(List.of(PARQUET), s.files());
            assertEquals(List.of("dataset_infos.json"), s.skipped());
            assertArrayEquals(parquet, Files.readAllBytes(s.dir().resolve(PARQUET)));
        }
        int port;
        try (ServerSocket sock = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = sock.getLocalPort();
        }
        try (HubDownloader d = builder().repoType(RepoType.DATASET).endpoint("http://127.0.0.1:" + port).build()) {
            Snapshot s = d.download(DATASET, "main", wanted);
            assertEquals(DATASET_SHA, s.commit());
            assertEquals(cache.resolve("datasets--openbmb--RLHF-V-Dataset/snapshots/" + DATASET_SHA), s.dir());
        }
    }

    @Test
    void datasetErrorsSayDataset() throws IOException {
        addDataset();
        FakeHub.Repo priv = FakeHub.Repo.dataset("acme/private-prefs", PRIVATE_SHA).file("a.parquet", new byte[] {1});
        priv.requiredToken = "hf_secret";
        hub.add(priv);
        try (HubDownloader d = builder().repoType(RepoType.DATASET).build()) {
            HubException e = assertThrows(HubException.class, () -> d.download("nobody/nothing"));
            assertEquals(HubException.Kind.NOT_FOUND, e.kind());
            assertTrue(e.getMessage().contains("404") && e.getMessage().contains("dataset nobody/nothing not found"),
                    e.getMessage());
            assertFalse(e.getMessage().contains("repository") || e.getMessage().contains("model nobody"), e.getMessage());

            // a model id asked for as a dataset is a missing dataset
            HubException m = assertThrows(HubException.class, () -> d.download(REPO));
            assertTrue(m.getMessage().contains("dataset " + REPO + " not found"), m.getMessage());

            HubException r = assertThrows(HubException.class, () -> d.download(DATASET, "v9", null));
            assertTrue(r.getMessage().contains("revision v9 not found in dataset " + DATASET), r.getMessage());

            HubException f = assertThrows(HubException.class,
                    () -> d.download(DATASET, "main", List.of(WantedFile.required("train.parquet"))));
            assertEquals(HubException.Kind.NOT_FOUND, f.kind());
            assertTrue(f.getMessage().contains("file train.parquet not found in dataset " + DATASET)
                    && f.getMessage().contains("the dataset has: README.md"), f.getMessage());

            Path target = cache.resolve("x/missing.parquet");
            HubException g = assertThrows(HubException.class,
                    () -> d.fetchFile(DATASET, "main", "missing.parquet", target, null, -1, false));
            assertTrue(g.getMessage().contains("file missing.parquet not found in dataset " + DATASET), g.getMessage());

            HubException u = assertThrows(HubException.class, () -> d.download("acme/private-prefs"));
            assertEquals(HubException.Kind.UNAUTHORIZED, u.kind());
            assertTrue(u.getMessage().contains("the dataset is private or gated") && u.getMessage().contains("HF_TOKEN"),
                    u.getMessage());
        }
        hub.datasets.get("acme/private-prefs").gated = true;
        try (HubDownloader d = builder().repoType(RepoType.DATASET).token("hf_other").build()) {
            HubException e = assertThrows(HubException.class, () -> d.download("acme/private-prefs"));
            assertEquals(HubException.Kind.FORBIDDEN, e.kind());
            assertTrue(e.getMessage().contains("gated dataset accept its terms at " + hub.hubUrl()
                    + "/datasets/acme/private-prefs"), e.getMessage());
        }
    }

    @Test
    void sameOriginComparesThePort() {
        assertTrue(HubDownloader.sameOrigin(URI.create("https://huggingface.co/a"), URI.create("https://HUGGINGFACE.co:443")));
        assertFalse(HubDownloader.sameOrigin(URI.create("http://127.0.0.1:8000/a"), URI.create("http://127.0.0.1:8001")));
        assertFalse(HubDownloader.sameOrigin(URI.create("http://huggingface.co/a"), URI.create("https://huggingface.co")));
        assertFalse(HubDownloader.sameOrigin(URI.create("https://cdn-lfs.huggingface.co/x"), URI.create("https://huggingface.co")));
    }

    @Test
    void environmentSuppliesEndpointAndToken() throws IOException {
        try (HubDownloader d = HubDownloader.builder(cache)
                .env(Map.of("HF_ENDPOINT", hub.hubUrl() + "/", "HF_TOKEN", "hf_secret"))
                .build()) {
            assertTrue(d.hasToken());
            assertEquals(URI.create(hub.hubUrl()), d.endpoint());
            Snapshot s = d.download(PRIVATE, null, List.of(WantedFile.required("config.json")));
            assertEquals(List.of("config.json"), s.files());
        }
    }

    @Test
    void unauthorizedMentionsHfToken() {
        try (HubDownloader d = builder().build()) {
            HubException e = assertThrows(HubException.class, () -> d.download(PRIVATE));
            assertEquals(HubException.Kind.UNAUTHORIZED, e.kind());
            assertTrue(e.getMessage().contains("HF_TOKEN") && e.getMessage().contains("401")
                    && e.getMessage().contains(PRIVATE), e.getMessage());
        }
    }

    @Test
    void forbiddenForAGatedRepoMentionsHfToken() {
        hub.repos.get(PRIVATE).gated = true;
        try (HubDownloader d = builder().token("hf_other").build()) {
            HubException e = assertThrows(HubException.class, () -> d.download(PRIVATE));
            assertEquals(HubException.Kind.FORBIDDEN, e.kind());
            assertTrue(e.getMessage().contains("HF_TOKEN") && e.getMessage().contains("403"), e.getMessage());
        }
    }

    @Test
    void notFoundNamesTheRepoOrFile() throws IOException {
        try (HubDownloader d = builder().build()) {
            HubException e = assertThrows(HubException.class, () -> d.download("nobody/nothing"));
            assertEquals(HubException.Kind.NOT_FOUND, e.kind());
            assertTrue(e.getMessage().contains("404") && e.getMessage().contains("repository nobody/nothing not found"),
                    e.getMessage());

            HubException r = assertThrows(HubException.class, () -> d.download(REPO, "v9", null));
            assertTrue(r.getMessage().contains("revision v9 not found"), r.getMessage());

            Path target = cache.resolve("x/missing.json");
            HubException f = assertThrows(HubException.class,
                    () -> d.fetchFile(REPO, "main", "missing.json", target, null, -1, false));
            assertEquals(HubException.Kind.NOT_FOUND, f.kind());
            assertTrue(f.getMessage().contains("file missing.json not found in " + REPO), f.getMessage());
            assertEquals(-1, d.fetchFile(REPO, "main", "missing.json", target, null, -1, true));
            assertFalse(Files.exists(target));
        }
    }

    @Test
    void connectionRefusedSaysOffline() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        try (HubDownloader d = builder().endpoint("http://127.0.0.1:" + port).build()) {
            long t0 = System.nanoTime();
            HubException e = assertThrows(HubException.class, () -> d.download(REPO));
            assertEquals(HubException.Kind.OFFLINE, e.kind());
            assertTrue(e.getMessage().contains("offline? pass a local folder instead"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
        }
    }

    @Test
    void offlineFallsBackToACompleteCachedSnapshot() throws IOException {
        addProcessorConfigs();
        try (HubDownloader d = builder().build()) {
            d.download(REPO, "main", HubDownloader.SMOLVLM_FILES);
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        try (HubDownloader d = builder().endpoint("http://127.0.0.1:" + port).build()) {
            Snapshot s = d.download(REPO, "main", HubDownloader.SMOLVLM_FILES);
            assertEquals(SHA, s.commit());
            assertEquals(0, s.downloadedBytes());
            // a commit hash is served from the cache without asking the network at all
            assertEquals(SHA, d.download(REPO, SHA, HubDownloader.SMOLVLM_FILES).commit());
            HubException e = assertThrows(HubException.class, () -> d.download(REPO)); // full listing never cached
            assertEquals(HubException.Kind.OFFLINE, e.kind());
        }
        try (HubDownloader d = builder().endpoint("http://127.0.0.1:" + port).offlineFallback(false).build()) {
            assertThrows(HubException.class, () -> d.download(REPO, "main", HubDownloader.SMOLVLM_FILES));
        }
    }

    @Test
    void aStalledTransferHitsTheReadTimeoutAndKeepsThePartialFile() throws IOException {
        hub.cdnStalls = true;
        try (HubDownloader d = builder().readTimeout(Duration.ofMillis(300)).build()) {
            long t0 = System.nanoTime();
            HubException e = assertThrows(HubException.class,
                    () -> d.download(REPO, "main", List.of(WantedFile.required("model.safetensors"))));
            assertEquals(HubException.Kind.OFFLINE, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("read timeout") && e.getMessage().contains("model.safetensors"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < 3_000_000_000L, "gave up in time");
        }
        Path part = snapshot(REPO, SHA).resolve("model.safetensors.incomplete");
        assertEquals(16, Files.size(part), "the partial download stays to be resumed");
    }

    @Test
    void rejectsBadRepoIdsAndUnsafeFileNames() {
        try (HubDownloader d = builder().build()) {
            assertEquals(HubException.Kind.INVALID, assertThrows(HubException.class, () -> d.download("../etc")).kind());
            assertEquals(HubException.Kind.INVALID, assertThrows(HubException.class,
                    () -> d.download(REPO, "main", List.of(WantedFile.required("../../x")))).kind());
        }
    }

    @Test
    void lfsPointerParsing() {
        String sha = "4d7a2146" + "0".repeat(56);
        LfsPointer p = LfsPointer.parse("version https://git-lfs.github.com/spec/v1\noid sha256:" + sha + "\nsize 513016344\n");
        assertEquals(sha, p.sha256());
        assertEquals(513016344L, p.size());
        assertEquals(p, LfsPointer.parse(p.text()));
        assertThrows(IllegalArgumentException.class, () -> LfsPointer.parse("{\"not\": \"a pointer\"}"));
        assertThrows(IllegalArgumentException.class,
                () -> LfsPointer.parse("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n"));
        assertThrows(IllegalArgumentException.class,
                () -> LfsPointer.parse("version https://git-lfs.github.com/spec/v1\nsize 1\n"));
    }

    @Test
    void etagsAreNormalized() {
        assertEquals("abc", HubDownloader.normalizeEtag("W/\"ABC\""));
        assertEquals("abc", HubDownloader.normalizeEtag("\"abc\""));
        assertEquals("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", HubDownloader.normalizeEtag(" \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\" "));
    }

    @Test
    void consolePrinterRewritesOneLine() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        HubProgress p = HubProgress.console(new PrintStream(buf, true, StandardCharsets.UTF_8), true);
        p.update("model.safetensors", 0, 2048);
        p.update("model.safetensors", 2048, 2048);
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(out.startsWith("\r  model.safetensors"), out);
        assertTrue(out.contains("2.0 KiB / 2.0 KiB  100%"), out);
        assertTrue(out.endsWith("\n") && out.indexOf('\n') == out.length() - 1, out);

        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        HubProgress q = HubProgress.console(new PrintStream(plain, true, StandardCharsets.UTF_8), false);
        q.update("config.json", 10, 100);
        q.update("config.json", 100, 100);
        assertEquals(1, plain.toString(StandardCharsets.UTF_8).lines().count());
    }
}
