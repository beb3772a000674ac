package dev.smoldpo.data;

import java.util.Base64;

/**
 * Whether a JSONL string that names no file is an image in plain base64. Only the start is decoded:
 * the decoded bytes must begin with the signature of a format {@link ImageCheck} decodes (PNG, JPEG,
 * GIF, WebP, BMP). A path never passes by accident: "a.png" has a character base64 lacks, and a path of
 * base64 letters such as "img/cat" decodes to bytes that start no image. WBMP is left out because it
 * has no signature to tell it from any other bytes.
 */
final class Base64Image {
    /** Characters decoded: 16 bytes, enough for the longest signature checked (WebP's 12). */
    private static final int PREFIX_CHARS = 24;

    private Base64Image() {}

    /** Whether {@code text} (whitespace and line breaks allowed, as MIME base64 has them) starts with an image in base64. */
    static boolean isImage(String text) {
        StringBuilder prefix = new StringBuilder(PREFIX_CHARS);
        for (int i = 0; i < text.length() && prefix.length() < PREFIX_CHARS; i++) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                continue;
            }
            if (!(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/')) {
                return false; // '=' padding cannot occur this early in a real image's base64
            }
            prefix.append(c);
        }
        if (prefix.length() < PREFIX_CHARS) {
            return false; // no image encodes to fewer than 16 bytes
        }
        return hasSignature(Base64.getDecoder().decode(prefix.toString()));
    }

    static boolean hasSignature(byte[] b) {
        return startsWith(b, 0, 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n')
                || startsWith(b, 0, 0xff, 0xd8, 0xff)
                || startsWith(b, 0, 'G', 'I', 'F', '8', '7', 'a') || startsWith(b, 0, 'G', 'I', 'F', '8', '9', 'a')
                || startsWith(b, 0, 'R', 'I', 'F', 'F') && startsWith(b, 8, 'W', 'E', 'B', 'P')
                // "BM" alone is two bytes: also require the header's reserved field, which is zero
                || startsWith(b, 0, 'B', 'M') && startsWith(b, 6, 0, 0, 0, 0);
    }

    private static boolean startsWith(byte[] b, int at, int... signature) {
        if (b.length < at + signature.length) {
            return false;
        }
        for (int i = 0; i < signature.length; i++) {
            if ((b[at + i] & 0xff) != signature[i]) {
                return false;
            }
        }
        return true;
    }
}
