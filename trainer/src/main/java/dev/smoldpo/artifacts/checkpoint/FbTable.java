package dev.smoldpo.artifacts.checkpoint;

import com.google.flatbuffers.Table;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A flatbuffer table with bounds-checked accessors. Every offset, vtable, field, vector and string is
 * checked against the buffer before it is read, so a truncated or corrupt file fails with a
 * {@link CheckpointFormatException} that says what was being read and where, never with an index
 * error or a wrong value. Fields are addressed by slot (their index in the schema's table).
 */
final class FbTable extends Table {
    private final String what;
    private final int vtable;
    private final int vtableSize;
    private final int tableSize;

    private FbTable(ByteBuffer buffer, int position, String what) {
        this.what = what;
        int limit = buffer.limit();
        if (position < 0 || (long) position + 4 > limit) {
            throw corrupt(what + ": table offset " + position + " is outside the " + limit + "-byte buffer");
        }
        if ((position & 3) != 0) {
            throw corrupt(what + ": table at " + position + " is not 4-byte aligned");
        }
        long vtable = (long) position - buffer.getInt(position);
        if (vtable < 0 || vtable + 4 > limit || (vtable & 1) != 0) {
            throw corrupt(what + ": vtable of the table at " + position + " is at " + vtable
                    + ", outside the " + limit + "-byte buffer or misaligned");
        }
        this.vtable = (int) vtable;
        this.vtableSize = Short.toUnsignedInt(buffer.getShort((int) vtable));
        if (vtableSize < 4 || (vtableSize & 1) != 0 || vtable + vtableSize > limit) {
            throw corrupt(what + ": vtable at " + vtable + " has an invalid size " + vtableSize);
        }
        this.tableSize = Short.toUnsignedInt(buffer.getShort((int) vtable + 2));
        if (tableSize < 4 || (long) position + tableSize > limit) {
            throw corrupt(what + ": table at " + position + " of " + tableSize + " bytes runs past the end of the "
                    + limit + "-byte buffer");
        }
        __reset(position, buffer);
    }

    /** The root table of a finished buffer (whose position must be 0). */
    static FbTable root(ByteBuffer buffer, String what) {
        if (buffer.limit() < 8) {
            throw corrupt(what + ": " + buffer.limit() + " bytes is too short for a flatbuffer");
        }
        long root = Integer.toUnsignedLong(buffer.getInt(0));
        if (root >= buffer.limit()) {
            throw corrupt(what + ": root offset " + root + " is outside the " + buffer.limit() + "-byte buffer");
        }
        return new FbTable(buffer, (int) root, what);
    }

    static CheckpointFormatException corrupt(String detail) {
        return new CheckpointFormatException("truncated or corrupt checkpoint: " + detail);
    }

    String what() {
        return what;
    }

    /** The field's offset inside the table, 0 when absent (read unsigned, unlike {@link Table#__offset}). */
    private int fieldOffset(int slot) {
        int entry = 4 + 2 * slot;
        return entry + 2 <= vtableSize ? Short.toUnsignedInt(bb.getShort(vtable + entry)) : 0;
    }

    /** Absolute position of a scalar field of {@code width} bytes, or -1 when the field is absent. */
    private int field(int slot, int width, String name) {
        int vtableOffset = fieldOffset(slot);
        if (vtableOffset == 0) {
            return -1;
        }
        if (vtableOffset + width > tableSize) {
            throw corrupt(what + "." + name + ": field at +" + vtableOffset + " lies outside its " + tableSize
                    + "-byte table");
        }
        int at = bb_pos + vtableOffset;
        if ((at & (Math.min(width, 8) - 1)) != 0) {
            throw corrupt(what + "." + name + ": field at " + at + " is not " + width + "-byte aligned");
        }
        return at;
    }

    /** Absolute position an offset field points to, or -1 when absent. */
    private int target(int slot, String name) {
        int at = field(slot, 4, name);
        if (at < 0) {
            return -1;
        }
        long target = at + Integer.toUnsignedLong(bb.getInt(at));
        if (target + 4 > bb.limit()) {
            throw corrupt(what + "." + name + ": offset at " + at + " points to " + target + ", outside the "
                    + bb.limit() + "-byte buffer");
        }
        return (int) target;
    }

    boolean has(int slot) {
        return fieldOffset(slot) != 0;
    }

    int getInt(int slot, String name, int defaultValue) {
        int at = field(slot, 4, name);
        return at < 0 ? defaultValue : bb.getInt(at);
    }

    long getLong(int slot, String name, long defaultValue) {
        int at = field(slot, 8, name);
        return at < 0 ? defaultValue : bb.getLong(at);
    }

    float getFloat(int slot, String name, float defaultValue) {
        int at = field(slot, 4, name);
        return at < 0 ? defaultValue : bb.getFloat(at);
    }

    boolean getBool(int slot, String name, boolean defaultValue) {
        int at = field(slot, 1, name);
        return at < 0 ? defaultValue : bb.get(at) != 0;
    }

    /** A string field, or null when absent. */
    String getString(int slot, String name) {
        int target = target(slot, name);
        if (target < 0) {
            return null;
        }
        return string(target, what + "." + name);
    }

    private String string(int target, String label) {
        int length = vectorLength(target, 1, label);
        if ((long) target + 4 + length + 1 > bb.limit()) {
            throw corrupt(label + ": string at " + target + " lacks its terminating zero inside the buffer");
        }
        byte[] bytes = new byte[length];
        bb.get(target + 4, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** A sub-table, or null when absent. */
    FbTable getTable(int slot, String name, String label) {
        int target = target(slot, name);
        return target < 0 ? null : new FbTable(bb, target, label);
    }

    /** Element count of the vector at {@code target}, checked to fit the buffer. */
    private int vectorLength(int target, int elementSize, String label) {
        if ((target & 3) != 0) {
            throw corrupt(label + ": vector at " + target + " is not 4-byte aligned");
        }
        long length = Integer.toUnsignedLong(bb.getInt(target));
        if (target + 4 + length * elementSize > bb.limit()) {
            throw corrupt(label + ": vector at " + target + " of " + length + " elements of " + elementSize
                    + " bytes runs past the end of the " + bb.limit() + "-byte buffer");
        }
        return (int) length;
    }

    /** The tables of a vector-of-tables field, or null when absent. */
    List<FbTable> getTables(int slot, String name, String elementLabel) {
        int target = target(slot, name);
        if (target < 0) {
            return null;
        }
        int length = vectorLength(target, 4, what + "." + name);
        List<FbTable> tables = new ArrayList<>(length);
        for (int i = 0; i < length; i++) {
            int element = target + 4 + 4 * i;
            long table = element + Integer.toUnsignedLong(bb.getInt(element));
            if (table + 4 > bb.limit()) {
                throw corrupt(what + "." + name + "[" + i + "]: offset points to " + table + ", outside the "
                        + bb.limit() + "-byte buffer");
            }
            tables.add(new FbTable(bb, (int) table, elementLabel + "[" + i + "]"));
        }
        return tables;
    }

    /** An int64 vector field, or null when absent. */
    long[] getLongs(int slot, String name) {
        int target = target(slot, name);
        if (target < 0) {
            return null;
        }
        int length = vectorLength(target, 8, what + "." + name);
        if (length > 0 && ((target + 4) & 7) != 0) {
            throw corrupt(what + "." + name + ": int64 vector data at " + (target + 4) + " is not 8-byte aligned");
        }
        long[] values = new long[length];
        for (int i = 0; i < length; i++) {
            values[i] = bb.getLong(target + 4 + 8 * i);
        }
        return values;
    }

    /** A ubyte vector field as a little-endian view of the buffer (no copy), or null when absent. */
    ByteBuffer getBytes(int slot, String name) {
        int target = target(slot, name);
        if (target < 0) {
            return null;
        }
        int length = vectorLength(target, 1, what + "." + name);
        return bb.slice(target + 4, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Number of elements of a vector field of offsets (strings, tables), 0 when absent. */
    int vectorSize(int slot, String name) {
        int target = target(slot, name);
        return target < 0 ? 0 : vectorLength(target, 4, what + "." + name);
    }
}
