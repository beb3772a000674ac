package dev.smoldpo.artifacts.checkpoint;

import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.CheckpointT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.ModuleStateT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.OptimizerGroupT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.ParameterOptimizerStateT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.PropertyBagT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.PropertyT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.TensorT;
import dev.smoldpo.onnx.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads ONNX Runtime training checkpoints (flatbuffer, identifier {@code ODTC}, version 2): the ones
 * {@link CheckpointWriter} writes and the ones ORT's {@code SaveCheckpoint} writes, optimizer state,
 * property bag and external data (tensor bytes in the side file {@code <checkpoint>.data}) included.
 *
 * <p>The file is memory-mapped and the tensors are read-only views of the mapping, not copies. Any
 * structural problem, from a wrong identifier to an offset pointing past the end of a truncated file,
 * is a {@link CheckpointFormatException} naming the file and what was being read.
 */
public final class CheckpointReader {
    private CheckpointReader() {}

    /** Reads the checkpoint at {@code path}, with its external data file when it has one. */
    public static Checkpoint read(Path path) {
        ByteBuffer buffer = map(path, "checkpoint");
        try (ExternalData external = new ExternalData(CheckpointSchema.externalDataPath(path))) {
            return parse(buffer, path.toString(), external);
        } catch (CheckpointFormatException e) {
            throw e.getMessage().contains(path.toString()) ? e
                    : new CheckpointFormatException(path + ": " + e.getMessage(), e);
        }
    }

    /** Parses a checkpoint held in memory (from position to limit); it may not use external data. */
    public static Checkpoint read(ByteBuffer bytes) {
        ByteBuffer buffer = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
        return parse(buffer, "checkpoint buffer", null);
    }

    /** The side file ORT uses for the tensor bytes of a checkpoint with external data. */
    public static Path externalDataPath(Path checkpoint) {
        return CheckpointSchema.externalDataPath(checkpoint);
    }

    /** True when the file starts like a checkpoint (long enough and with the {@code ODTC} identifier). */
    public static boolean looksLikeCheckpoint(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(8);
            while (head.hasRemaining() && channel.read(head) >= 0) {
                // keep reading
            }
            return !head.hasRemaining() && hasIdentifier(head.flip());
        } catch (IOException e) {
            return false;
        }
    }

    static Checkpoint parse(ByteBuffer buffer, String source, ExternalData external) {
        buffer.order(ByteOrder.LITTLE_ENDIAN);
        if (buffer.limit() < 8) {
            throw new CheckpointFormatException(source + " is not an ONNX Runtime checkpoint: it has only "
                    + buffer.limit() + " bytes");
        }
        if (!hasIdentifier(buffer)) {
            throw new CheckpointFormatException(source + " is not an ONNX Runtime training checkpoint: its file identifier is "
                    + identifierOf(buffer) + ", expected \"" + CheckpointSchema.FILE_IDENTIFIER + "\"");
        }
        if (buffer.limit() % 4 != 0) {
            // Finished flatbuffers are padded to their largest alignment, at least 4 bytes.
            throw FbTable.corrupt(source + " has " + buffer.limit() + " bytes, not a multiple of 4");
        }
        FbTable root = FbTable.root(buffer, "Checkpoint");
        int version = root.getInt(CheckpointT.VERSION, "version", 0);
        if (version != CheckpointSchema.VERSION) {
            throw new CheckpointFormatException(source + ": checkpoint version " + version
                    + " is not supported (ONNX Runtime 1.28 and this reader support version " + CheckpointSchema.VERSION + ")");
        }
        TensorSource tensors = new TensorSource(source, external);

        List<CheckpointTensor> trainable = new ArrayList<>();
        List<CheckpointTensor> frozen = new ArrayList<>();
        FbTable module = root.getTable(CheckpointT.MODULE_STATE, "module_state", "ModuleState");
        if (module != null) {
            if (module.getBool(ModuleStateT.IS_NOMINAL_STATE, "is_nominal_state", false)) {
                throw new CheckpointFormatException(source + " is a nominal checkpoint: it names the parameters but holds "
                        + "no values, which this reader does not support");
            }
            trainable = tensors.list(module, ModuleStateT.REQUIRES_GRAD_PARAMS, "requires_grad_params");
            frozen = tensors.list(module, ModuleStateT.FROZEN_PARAMS, "frozen_params");
        }

        List<OptimizerGroup> groups = new ArrayList<>();
        List<FbTable> groupTables = root.getTables(CheckpointT.OPTIMIZER_GROUPS, "optimizer_groups", "OptimizerGroup");
        for (FbTable g : groupTables == null ? List.<FbTable>of() : groupTables) {
            String groupName = g.getString(OptimizerGroupT.GROUP_NAME, "group_name");
            if (groupName == null) {
                throw new CheckpointFormatException(source + ": " + g.what() + " has no group_name");
            }
            long step = g.getLong(OptimizerGroupT.STEP, "step", 0);
            float lr = g.getFloat(OptimizerGroupT.INITIAL_LEARNING_RATE, "initial_learning_rate", 0f);
            Map<String, List<CheckpointTensor>> moments = new LinkedHashMap<>();
            List<FbTable> states = g.getTables(OptimizerGroupT.OPTIMIZER_STATES, "optimizer_states",
                    "OptimizerGroup '" + groupName + "'.optimizer_states");
            for (FbTable s : states == null ? List.<FbTable>of() : states) {
                String param = s.getString(ParameterOptimizerStateT.PARAM_NAME, "param_name");
                if (param == null) {
                    throw new CheckpointFormatException(source + ": " + s.what() + " has no param_name");
                }
                if (moments.containsKey(param)) {
                    throw new CheckpointFormatException(source + ": optimizer group '" + groupName
                            + "' lists parameter '" + param + "' twice");
                }
                moments.put(param, tensors.list(s, ParameterOptimizerStateT.MOMENTUMS, "momentums"));
            }
            groups.add(new OptimizerGroup(groupName, step, lr, moments));
        }

        Map<String, Object> properties = new LinkedHashMap<>();
        FbTable bag = root.getTable(CheckpointT.PROPERTY_BAG, "property_bag", "PropertyBag");
        if (bag != null) {
            readProperties(bag, PropertyBagT.INTS, "ints", "IntProperty", source, properties);
            readProperties(bag, PropertyBagT.FLOATS, "floats", "FloatProperty", source, properties);
            readProperties(bag, PropertyBagT.STRINGS, "strings", "StringProperty", source, properties);
        }
        try {
            return new Checkpoint(trainable, frozen, groups, properties);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(source + ": " + e.getMessage(), e);
        }
    }

    private static void readProperties(FbTable bag, int slot, String field, String type, String source,
                                       Map<String, Object> into) {
        List<FbTable> entries = bag.getTables(slot, field, type);
        if (entries == null) {
            return;
        }
        for (FbTable p : entries) {
            String name = p.getString(PropertyT.NAME, "name");
            if (name == null) {
                throw new CheckpointFormatException(source + ": " + p.what() + " has no name");
            }
            Object value = switch (slot) {
                case PropertyBagT.INTS -> p.getLong(PropertyT.VALUE, "value", 0L);
                case PropertyBagT.FLOATS -> p.getFloat(PropertyT.VALUE, "value", 0f);
                default -> {
                    String s = p.getString(PropertyT.VALUE, "value");
                    if (s == null) {
                        throw new CheckpointFormatException(source + ": string property '" + name + "' has no value");
                    }
                    yield s;
                }
            };
            if (into.put(name, value) != null) {
                throw new CheckpointFormatException(source + ": property '" + name + "' appears twice");
            }
        }
    }

    /** Turns flatbuffer Tensor tables into {@link CheckpointTensor}s, from inline bytes or the external data file. */
    private record TensorSource(String source, ExternalData external) {
        List<CheckpointTensor> list(FbTable owner, int slot, String field) {
            List<FbTable> tables = owner.getTables(slot, field, owner.what() + "." + field);
            List<CheckpointTensor> out = new ArrayList<>();
            for (FbTable t : tables == null ? List.<FbTable>of() : tables) {
                out.add(tensor(t));
            }
            return out;
        }

        CheckpointTensor tensor(FbTable t) {
            String name = t.getString(TensorT.NAME, "name");
            if (name == null || name.isEmpty()) {
                throw new CheckpointFormatException(source + ": " + t.what() + " has no name");
            }
            String label = "tensor '" + name + "'";
            long[] dims = t.getLongs(TensorT.DIMS, "dims");
            if (dims == null) {
                dims = new long[0];
            }
            int code = t.getInt(TensorT.DATA_TYPE, "data_type", 0);
            DType dtype;
            try {
                if (code == TensorT.STRING_TYPE || t.vectorSize(TensorT.STRING_DATA, "string_data") > 0) {
                    throw new IllegalArgumentException("string tensors are not supported");
                }
                dtype = DType.fromOnnx(code);
            } catch (IllegalArgumentException e) {
                throw new CheckpointFormatException(source + ": " + label + " has element type " + code + ": " + e.getMessage());
            }
            long byteCount;
            try {
                byteCount = CheckpointTensor.byteCount(name, dims, dtype);
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw new CheckpointFormatException(source + ": " + label + " has invalid dims " + Arrays.toString(dims));
            }
            long externalOffset = t.getLong(TensorT.EXTERNAL_DATA_OFFSET, "external_data_offset", TensorT.NO_EXTERNAL_DATA);
            ByteBuffer raw;
            if (externalOffset >= 0) {
                if (external == null) {
                    throw new CheckpointFormatException(source + ": " + label
                            + " keeps its data in an external file, which a checkpoint read from memory cannot reach");
                }
                raw = external.slice(externalOffset, byteCount, label);
            } else {
                raw = t.getBytes(TensorT.RAW_DATA, "raw_data");
                if (raw == null) {
                    if (byteCount != 0) {
                        throw new CheckpointFormatException(source + ": " + label + " has neither raw_data nor external data");
                    }
                    raw = ByteBuffer.allocate(0);
                }
                if (raw.remaining() != byteCount) {
                    throw new CheckpointFormatException(source + ": " + label + " of " + dtype + Arrays.toString(dims)
                            + " needs " + byteCount + " bytes but raw_data has " + raw.remaining());
                }
            }
            return new CheckpointTensor(name, dims, dtype, raw.asReadOnlyBuffer());
        }
    }

    /** The side file with tensor bytes, opened on first use. */
    static final class ExternalData implements AutoCloseable {
        private final Path path;
        private FileChannel channel;
        private ByteBuffer whole;
        private long size;

        ExternalData(Path path) {
            this.path = path;
        }

        ByteBuffer slice(long offset, long length, String label) {
            try {
                if (channel == null) {
                    try {
                        channel = FileChannel.open(path, StandardOpenOption.READ);
                    } catch (NoSuchFileException e) {
                        throw new CheckpointFormatException(label + " keeps its data in the external data file " + path
                                + ", which does not exist");
                    }
                    size = channel.size();
                    if (size <= Integer.MAX_VALUE) {
                        whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
                    }
                }
                if (offset + length > size || offset + length < 0) {
                    throw new CheckpointFormatException(label + ": external data at offset " + offset + " of " + length
                            + " bytes runs past the end of " + path + " (" + size + " bytes)");
                }
                if (length > Integer.MAX_VALUE) {
                    throw new CheckpointFormatException(label + " has " + length + " bytes, more than one buffer can hold");
                }
                if (whole != null) {
                    return whole.slice((int) offset, (int) length).order(ByteOrder.LITTLE_ENDIAN);
                }
                return channel.map(FileChannel.MapMode.READ_ONLY, offset, length).order(ByteOrder.LITTLE_ENDIAN);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read external checkpoint data " + path, e);
            }
        }

        @Override
        public void close() {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // the mappings stay valid; nothing to do
                }
            }
        }
    }

    private static ByteBuffer map(Path path, String what) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size > Integer.MAX_VALUE) {
                throw new CheckpointFormatException(path + " has " + size + " bytes; a checkpoint flatbuffer is at most 2 GiB "
                        + "(larger tensors go to external data)");
            }
            if (size < 8) {
                throw new CheckpointFormatException(path + " is not an ONNX Runtime checkpoint: it has only " + size + " bytes");
            }
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("no " + what + " at " + path, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + what + " " + path, e);
        }
    }

    private static boolean hasIdentifier(ByteBuffer buffer) {
        byte[] id = new byte[4];
        buffer.get(4, id);
        return Arrays.equals(id, CheckpointSchema.FILE_IDENTIFIER.getBytes(StandardCharsets.US_ASCII));
    }

    private static String identifierOf(ByteBuffer buffer) {
        byte[] id = new byte[4];
        buffer.get(4, id);
        boolean printable = true;
        for (byte b : id) {
            printable &= b >= 0x20 && b < 0x7f;
        }
        if (printable) {
            return "\"" + new String(id, StandardCharsets.US_ASCII) + "\"";
        }
        StringBuilder hex = new StringBuilder("bytes");
        for (byte b : id) {
            hex.append(String.format(" %02x", b & 0xff));
        }
        return hex.toString();
    }
}
