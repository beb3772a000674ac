package dev.smoldpo.hf.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Emulates the hub on the loopback interface: a "hub" server (API, resolve endpoint, redirects for LFS
 * files) and a "cdn" server on another port (LFS content, Range support). Records what it saw. Serves model
 * repositories ({@code /api/models/...}, {@code /{id}/resolve/...}) and dataset repositories
 * ({@code /api/datasets/...}, {@code /datasets/{id}/resolve/...}) from separate maps.
 */
final class FakeHub implements AutoCloseable {
    static final class Repo {
        final RepoType type;
        final String id;
        final String sha;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final Set<String> lfs = ConcurrentHashMap.newKeySet();
        String requiredToken; // 401 without it
        boolean gated; // 403 for any token that is not requiredToken

        Repo(String id, String sha) {
            this(RepoType.MODEL, id, sha);
        }

        Repo(RepoType type, String id, String sha) {
            this.type = type;
            this.id = id;
            this.sha = sha;
        }

        static Repo dataset(String id, String sha) {
            return new Repo(RepoType.DATASET, id, sha);
        }

        Repo file(String name, byte[] content) {
            files.put(name, content);
            return this;
        }

        Repo lfsFile(String name, byte[] content) {
            files.put(name, content);
            lfs.add(name);
            return this;
        }
    }

    /** One request as seen by a server: path, Authorization (or null), Range (or null). */
    record Seen(String server, String path, String authorization, String range) {}

    final Map<String, Repo> repos = new ConcurrentHashMap<>();
    final Map<String, Repo> datasets = new ConcurrentHashMap<>();
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    final AtomicLong cdnBodyBytes = new AtomicLong();
    volatile boolean apiLfsInfo = true;
    volatile boolean cdnIgnoresRange;
    volatile boolean corruptCdn;
    volatile boolean cdnStalls;

    private final ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "fake-hub");
        t.setDaemon(true);
        return t;
    });
    private final HttpServer hub;
    private final HttpServer cdn;
    private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();

    FakeHub() throws IOException {
        InetSocketAddress any = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        hub = HttpServer.create(any, 16);
        cdn = HttpServer.create(any, 16);
        hub.setExecutor(pool);
        cdn.setExecutor(pool);
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        hub.start();
        cdn.start();
    }

    String hubUrl() {
        return "http://127.0.0.1:" + hub.getAddress().getPort();
    }

    int cdnPort() {
        return cdn.getAddress().getPort();
    }

    Repo add(Repo repo) {
        (repo.type == RepoType.DATASET ? datasets : repos).put(repo.id, repo);
        for (String f : repo.lfs) {
            blobs.put(sha256(repo.files.get(f)), repo.files.get(f));
        }
        return repo;
    }

    List<Seen> seenBy(String server) {
        return seen.stream().filter(s -> s.server.equals(server)).toList();
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
        pool.shutdownNow();
        try {
            pool.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private void handleHub(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            seen.add(new Seen("hub", path, ex.getRequestHeaders().getFirst("Authorization"),
                    ex.getRequestHeaders().getFirst("Range")));
            boolean apiModels = path.startsWith("/api/models/");
            if (apiModels || path.startsWith("/api/datasets/")) {
                String rest = path.substring(apiModels ? "/api/models/".length() : "/api/datasets/".length());
                int at = rest.indexOf("/revision/");
                Repo repo = at < 0 ? null : (apiModels ? repos : datasets).get(rest.substring(0, at));
                if (repo == null) {
                    error(ex, 404, "RepoNotFound", "Repository not found");
                    return;
                }
                if (!authorized(ex, repo)) {
                    return;
                }
                String rev = rest.substring(at + "/revision/".length());
                if (!rev.equals("main") && !rev.equals(repo.sha)) {
                    error(ex, 404, "RevisionNotFound", "Invalid rev id: " + rev);
                    return;
                }
                StringBuilder json = new StringBuilder("{\"id\":\"" + repo.id + "\",\"sha\":\"" + repo.sha + "\",\"siblings\":[");
                boolean first = true;
                for (var e : repo.files.entrySet()) {
                    json.append(first ? "" : ",").append("{\"rfilename\":\"").append(e.getKey()).append("\",\"size\":")
                            .append(e.getValue().length);
                    if (apiLfsInfo && repo.lfs.contains(e.getKey())) {
                        json.append(",\"lfs\":{\"sha256\":\"").append(sha256(e.getValue())).append("\",\"size\":")
                                .append(e.getValue().length).append(",\"pointerSize\":134}");
                    }
                    json.append('}');
                    first = false;
                }
                json.append("]}");
                send(ex, 200, "application/json", json.toString().getBytes(StandardCharsets.UTF_8));
                return;
            }
            boolean dataset = path.startsWith("/datasets/");
            int from = dataset ? "/datasets/".length() : 1;
            int at = path.indexOf("/resolve/");
            Repo repo = at < from ? null : (dataset ? datasets : repos).get(path.substring(from, at));
            if (repo == null) {
                error(ex, 404, "RepoNotFound", "Repository not found");
                return;
            }
            if (!authorized(ex, repo)) {
                return;
            }
            String rest = path.substring(at + "/resolve/".length());
            int slash = rest.indexOf('/');
            String rev = rest.substring(0, slash);
            String file = java.net.URLDecoder.decode(rest.substring(slash + 1), StandardCharsets.UTF_8);
            if (!rev.equals("main") && !rev.equals(repo.sha)) {
                error(ex, 404, "RevisionNotFound", "Invalid rev id: " + rev);
                return;
            }
            byte[] content = repo.files.get(file);
            if (content == null) {
                error(ex, 404, "EntryNotFound", file + " does not exist on \"" + rev + "\"");
                return;
            }
            ex.getResponseHeaders().set("X-Repo-Commit", repo.sha);
            if (repo.lfs.contains(file)) {
                String sha = sha256(content);
                ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
                ex.getResponseHeaders().set("X-Linked-Size", Long.toString(content.length));
                ex.getResponseHeaders().set("ETag", "\"" + sha + "\"");
                ex.getResponseHeaders().set("Location", "http://127.0.0.1:" + cdnPort() + "/cdn/" + sha + "?X-Sig=abc");
                ex.sendResponseHeaders(302, -1);
                return;
            }
            ex.getResponseHeaders().set("ETag", "\"" + gitSha1(content) + "\"");
            sendRange(ex, content, false);
        }
    }

    private boolean authorized(HttpExchange ex, Repo repo) throws IOException {
        if (repo.requiredToken == null) {
            return true;
        }
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (("Bearer " + repo.requiredToken).equals(auth)) {
            return true;
        }
        if (auth != null && repo.gated) {
            error(ex, 403, "GatedRepo", "Access to " + kind(repo) + " " + repo.id + " is restricted");
        } else {
            error(ex, 401, "GatedRepo", "Access to " + kind(repo) + " " + repo.id + " is restricted. You must be authenticated");
        }
        return false;
    }

    private static String kind(Repo repo) {
        return repo.type == RepoType.DATASET ? "dataset" : "model";
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            seen.add(new Seen("cdn", path, ex.getRequestHeaders().getFirst("Authorization"),
                    ex.getRequestHeaders().getFirst("Range")));
            byte[] content = path.startsWith("/cdn/") ? blobs.get(path.substring(5)) : null;
            if (content == null) {
                send(ex, 404, "text/plain", "NoSuchKey".getBytes(StandardCharsets.UTF_8));
                return;
            }
            if (corruptCdn) {
                content = content.clone();
                content[content.length / 2] ^= 0x5a;
            }
            if (cdnStalls) {
                ex.sendResponseHeaders(200, content.length);
                OutputStream out = ex.getResponseBody();
                out.write(content, 0, 16);
                out.flush();
                try {
                    Thread.sleep(5_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
            ex.getResponseHeaders().set("ETag", "\"d41d8cd98f00b204e9800998ecf8427e\""); // an S3-style md5, ignored
            sendRange(ex, content, true);
        }
    }

    private void sendRange(HttpExchange ex, byte[] content, boolean count) throws IOException {
        String range = ex.getRequestHeaders().getFirst("Range");
        int from = 0;
        int status = 200;
        if (range != null && !(count && cdnIgnoresRange) && range.startsWith("bytes=") && range.endsWith("-")) {
            from = Integer.parseInt(range.substring(6, range.length() - 1));
            if (from >= content.length) {
                ex.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            status = 206;
            ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        int n = content.length - from;
        ex.sendResponseHeaders(status, n == 0 ? -1 : n);
        if (n > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(content, from, n);
            }
            if (count) {
                cdnBodyBytes.addAndGet(n);
            }
        }
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        ex.getResponseHeaders().set("X-Error-Code", code);
        ex.getResponseHeaders().set("X-Error-Message", message);
        send(ex, status, "application/json", ("{\"error\":\"" + message.replace("\"", "'") + "\"}").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitSha1(byte[] b) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-1");
            d.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(d.digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
