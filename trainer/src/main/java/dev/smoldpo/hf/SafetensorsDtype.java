package dev.smoldpo.hf;

import java.util.Optional;

/** Element types of the safetensors format with their byte sizes. */
public enum SafetensorsDtype {
    BOOL(1, false),
    U8(1, false),
    I8(1, false),
    F8_E5M2(1, false),
    F8_E4M3(1, false),
    I16(2, false),
    U16(2, false),
    F16(2, true),
    BF16(2, true),
    I32(4, false),
    U32(4, false),
    F32(4, true),
    F64(8, true),
    I64(8, false),
    U64(8, false);

    private final int byteSize;
    private final boolean convertibleToFloat32;

    SafetensorsDtype(int byteSize, boolean convertibleToFloat32) {
        this.byteSize = byteSize;
        this.convertibleToFloat32 = convertibleToFloat32;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether {@link SafetensorsFile#readFloat32} can convert this type (F16, BF16, F32, F64). */
    public boolean convertibleToFloat32() {
        return convertibleToFloat32;
    }

    /** The dtype spelled exactly as in a safetensors header (case-sensitive), if known. */
    public static Optional<SafetensorsDtype> parse(String s) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(s)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
