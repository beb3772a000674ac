package dev.smoldpo.infer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;

/** float32 ⇄ float16 at the sessions' boundary (round to nearest even; float16 bits as shorts). */
final class HalfFloats {
    private HalfFloats() {}

    /** The first {@code count} values as float16, in a direct native-order buffer. */
    static ByteBuffer encode(float[] values, int count) {
        ByteBuffer out = ByteBuffer.allocateDirect(count * 2).order(ByteOrder.nativeOrder());
        for (int i = 0; i < count; i++) {
            out.putShort(Float.floatToFloat16(values[i]));
        }
        return out.flip();
    }

    static float[] decode(ShortBuffer bits) {
        float[] out = new float[bits.remaining()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Float.float16ToFloat(bits.get(bits.position() + i));
        }
        return out;
    }
}
