package dev.smoldpo.hf.hub;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads one file so that an interrupted download can be resumed: the bytes go to
 * {@code {file}.incomplete}, a later attempt asks only for the rest with {@code Range: bytes=N-} (and starts
 * over when the server answers 200 or a range it was not asked for), and the finished file is checked by
 * {@link DownloadVerifier} before it is renamed to its name. LFS files come from a CDN through the redirect
 * that {@link HubApiClient#open} follows.
 */
final class ResumableTransfer {
    /** A resume answered with a range other than the one asked for starts over; this many times at most. */
    private static final int ATTEMPTS = 3;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern CONTENT_RANGE_416 = Pattern.compile("bytes\\s+\\*/(\\d+)");

    private final HubApiClient api;
    private final HubProgress progress;

    ResumableTransfer(HubApiClient api, HubProgress progress) {
        this.api = api;
        this.progress = progress;
    }

    /** A finished attempt: the response whose headers verify the file, its total size, the bytes received. */
    private record Attempt(HubResponse response, long total, long transferred) {}

    /** The attempt's answer for an optional file the repository does not have. */
    private static final Attempt MISSING = new Attempt(null, -1, -1);

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
    long fetch(String repoId, String revision, String name, Path target, LfsPointer expected, long listedSize,
            boolean optional) throws HubException {
        try {
            Files.createDirectories(target.toAbsolutePath().getParent());
            Path pointerFile = HubCacheLayout.pointerFile(target);
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
            Path part = HubCacheLayout.partialFile(target);
            URI uri = api.resolveUri(repoId, revision, name);
            String what = name + " from " + api.repoType().named(repoId);
            Attempt done = null;
            for (int attempt = 0; attempt < ATTEMPTS && done == null; attempt++) {
                done = attempt(uri, what, part, repoId, revision, name, knownSize, optional);
                if (done == MISSING) {
                    return -1;
                }
            }
            if (done == null) {
                throw new HubException(HubException.Kind.HTTP, "the server kept answering resume requests for "
                        + what + " with the wrong range; delete " + part + " and retry");
            }
            DownloadVerifier.verify(part, name, target, expected, done.response(), listedSize, done.total());
            HubCacheLayout.moveIntoPlace(part, target);
            long size = Files.size(target);
            progress.update(name, size, size);
            return done.transferred();
        } catch (HubException e) {
            throw e;
        } catch (IOException e) {
            throw new HubException(HubException.Kind.IO, "local file error for " + target + ": " + e, e);
        }
    }

    /**
     * One request for the file, from where {@code part} ends.
     *
     * @return the outcome; null when the answer did not fit the request (the partial file was dropped, try
     *     again); {@link #MISSING} for an optional file the repository does not have
     */
    private Attempt attempt(URI uri, String what, Path part, String repoId, String revision, String name,
            long knownSize, boolean optional) throws IOException {
        long offset = Files.isRegularFile(part) ? Files.size(part) : 0;
        if (knownSize >= 0 && offset > knownSize) {
            Files.delete(part);
            offset = 0;
        }
        HubResponse e = api.open(uri, offset > 0 ? "bytes=" + offset + "-" : null, what);
        try (InputStream body = e.response().body()) {
            int sc = e.response().statusCode();
            HttpHeaders h = e.response().headers();
            if (sc == 416 && offset > 0) {
                // the .incomplete file may already hold everything
                long t = h.firstValue("Content-Range").map(CONTENT_RANGE_416::matcher)
                        .filter(Matcher::matches).map(m -> Long.parseLong(m.group(1))).orElse(-1L);
                long expect = t >= 0 ? t : e.linkedSize() >= 0 ? e.linkedSize() : knownSize;
                if (expect == offset) {
                    return new Attempt(e, offset, 0);
                }
                Files.delete(part);
                return null;
            }
            if (sc == 404 && optional) {
                Files.deleteIfExists(part);
                progress.update(name, 0, 0);
                return MISSING;
            }
            if (sc != 200 && sc != 206) {
                throw api.httpError(sc, h, HubApiClient.readSome(body), repoId, revision, name);
            }
            boolean append = false;
            long total;
            if (sc == 206) {
                Matcher m = CONTENT_RANGE.matcher(h.firstValue("Content-Range").orElse(""));
                if (offset == 0 || !m.matches() || Long.parseLong(m.group(1)) != offset) {
                    Files.deleteIfExists(part); // an answer for a range we did not ask: start over
                    return null;
                }
                append = true;
                total = m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3));
            } else {
                offset = 0; // a 200 to a Range request: the server restarts from zero
                total = h.firstValueAsLong("Content-Length").orElse(-1);
            }
            if (total < 0) {
                total = e.linkedSize() >= 0 ? e.linkedSize() : knownSize;
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
            long transferred;
            try (OutputStream out = new BufferedOutputStream(raw, 1 << 16)) {
                transferred = api.copier().copy(body, out, what, n -> progress.update(name, start + n, shownTotal));
            }
            return new Attempt(e, total, transferred);
        }
    }
}
