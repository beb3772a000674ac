package dev.smoldpo.hf.hub;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Checks a finished download before it gets its final name.
 *
 * <p>Expected sha256, first found of: the given {@link LfsPointer} (from {@link WantedFile#expected()}, a
 * {@code {file}.lfs-pointer} file or the API's {@code lfs.sha256}), the {@code X-Linked-Etag} header, a
 * 64-hex {@code ETag} from the hub. A 40-hex {@code ETag} from the hub (non-LFS files) is checked as a git
 * blob sha1 (or a plain sha1, for mirrors). Expected size: pointer, {@code X-Linked-Size}, API listing,
 * {@code Content-Length}. A mismatch deletes the download and throws {@link HubException} naming the file,
 * the expected and the actual value; a short file is kept as {@code .incomplete} to resume.
 */
final class DownloadVerifier {

    private DownloadVerifier() {}

    /**
     * @param part the downloaded bytes ({@code .incomplete})
     * @param name the file's path in the repository, for messages
     * @param target the final name, for messages
     * @param expected expected sha256 and size, or null
     * @param response the hub's headers for this file
     * @param listedSize size from the API listing, or -1
     * @param transferTotal the total size the transfer announced ({@code Content-Length}/{@code Content-Range}), or -1
     */
    static void verify(Path part, String name, Path target, LfsPointer expected, HubResponse response, long listedSize,
            long transferTotal) throws IOException {
        long actualSize = Files.size(part);
        checkSize(part, name, actualSize, expected, response, listedSize, transferTotal);
        String sha256 = null;
        String sha256Source = null;
        if (expected != null) {
            sha256 = expected.sha256();
            sha256Source = "git-lfs pointer";
        } else if (response.linkedEtag() != null && HubNames.SHA256_HEX.matcher(response.linkedEtag()).matches()) {
            sha256 = response.linkedEtag();
            sha256Source = "X-Linked-Etag";
        } else if (response.hubEtag() != null && HubNames.SHA256_HEX.matcher(response.hubEtag()).matches()) {
            sha256 = response.hubEtag();
            sha256Source = "ETag";
        }
        String gitSha1 = sha256 == null && response.hubEtag() != null && HubNames.SHA1_HEX.matcher(response.hubEtag()).matches()
                ? response.hubEtag() : null;
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

    /** A short file is an interrupted download (kept to resume); a long one is wrong (deleted). */
    private static void checkSize(Path part, String name, long actualSize, LfsPointer expected, HubResponse response,
            long listedSize, long transferTotal) throws IOException {
        String sizeSource;
        long expectedSize;
        if (expected != null) {
            expectedSize = expected.size();
            sizeSource = "git-lfs pointer";
        } else if (response.linkedSize() >= 0) {
            expectedSize = response.linkedSize();
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
    }

    private static MessageDigest digest(String alg) {
        try {
            return MessageDigest.getInstance(alg);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
