package dev.smoldpo.nativelib;

/** Byte order of decoded pixels ({@code enum smoldpo_pixel_layout}). */
public enum PixelLayout {
    /** R,G,B (3 channels), R,G,B,A (4 channels); also used for 1-channel gray. */
    RGB(0),
    /** B,G,R (3 channels, AWT TYPE_3BYTE_BGR) or B,G,R,A (4, AWT TYPE_INT_ARGB as little-endian bytes). */
    BGR(1),
    /** A,B,G,R (4 channels, AWT TYPE_4BYTE_ABGR). */
    ABGR(2),
    /** B,G,R,unused (4 channels, AWT TYPE_INT_RGB as little-endian bytes). */
    BGRX(3);

    private final int code;

    PixelLayout(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
