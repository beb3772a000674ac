package dev.smoldpo.hf;

/** bfloat16 bit conversions. */
public final class Bf16 {
    private Bf16() {}

    /** Exact widening of bf16 bits to f32. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** f32 to bf16 bits, rounding to nearest with ties to even; NaN stays a (quiet) NaN. */
    public static short fromFloat(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((x >>> 16) | 0x0040);
        }
        int lsb = (x >>> 16) & 1;
        return (short) ((x + 0x7FFF + lsb) >>> 16);
    }
}
