package dev.smoldpo.artifacts.checkpoint;

import com.google.flatbuffers.FlatBufferBuilder;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.CheckpointT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.ModuleStateT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.OptimizerGroupT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.ParameterOptimizerStateT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.PropertyBagT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.PropertyT;
import dev.smoldpo.artifacts.checkpoint.CheckpointSchema.TensorT;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes ONNX Runtime training checkpoints (flatbuffer, identifier {@code ODTC}, version 2) that
 * ORT 1.28's {@code LoadCheckpoint} accepts: {@code frozen_params} is always present (ORT rejects a
 * checkpoint without it), optimizer groups and the property bag are written as given.
 *
 * <p>When the tensors hold at least {@code externalDataThreshold} bytes, their bytes go to the side
 * file {@code <checkpoint>.data}, as ORT does for large checkpoints, and the checkpoint itself holds
 * only names, shapes and offsets ({@code ModuleState.has_external_data}, {@code Tensor.external_data_offset}).
 * A flatbuffer cannot exceed 2 GiB, so larger checkpoints must use external data.
 *
 * <p>Files are written atomically: to a temporary file in the same folder, flushed, then renamed over
 * the target. A reader sees the old checkpoint or the new one, never a torn one. (With external data
 * the side file is renamed first; a crash between the two renames leaves the old checkpoint next to
 * the new side file.)
 */
public final class CheckpointWriter {
    /** Tensor bytes from which {@link #write(Checkpoint, Path)} uses an external data file: 1 GiB. */
    public static final long DEFAULT_EXTERNAL_DATA_THRESHOLD = 1L << 30;
    /** Tensors in the external data file start at multiples of this. */
    static final int EXTERNAL_ALIGNMENT = 64;
    /** Inline tensor data starts at multiples of this inside the flatbuffer. */
    private static final int INLINE_ALIGNMENT = 16;
    /** What an inline checkpoint may hold in tensor bytes, leaving room for the rest of the flatbuffer. */
    private static final long MAX_INLINE_BYTES = Integer.MAX_VALUE - (64L << 20);

    private CheckpointWriter() {}

    /** Writes {@code checkpoint} to {@code path}, with external data from {@link #DEFAULT_EXTERNAL_DATA_THRESHOLD} bytes. */
    public static void write(Checkpoint checkpoint, Path path) {
        write(checkpoint, path, DEFAULT_EXTERNAL_DATA_THRESHOLD);
    }

    /**
     * Writes {@code checkpoint} to {@code path}; when its tensors hold {@code externalDataThreshold}
     * bytes or more, their bytes go to {@code <path>.data} ({@link Long#MAX_VALUE}: never, 0: always).
     */
    public static void write(Checkpoint checkpoint, Path path, long externalDataThreshold) {
        long tensorBytes = tensorBytes(checkpoint);
        boolean external = tensorBytes >= externalDataThreshold;
        if (!external && tensorBytes > MAX_INLINE_BYTES) {
            throw new IllegalArgumentException("checkpoint tensors hold " + tensorBytes + " bytes, too many for one "
                    + "flatbuffer (2 GiB); write it with external data (a threshold below that)");
        }
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        Path dataTarget = CheckpointSchema.externalDataPath(target);
        Path tempMain = null;
        Path tempData = null;
        try {
            Files.createDirectories(dir);
            ByteBuffer flatbuffer;
            if (external) {
                tempData = Files.createTempFile(dir, "." + dataTarget.getFileName(), ".tmp");
                try (DataSink sink = new DataSink(FileChannel.open(tempData, StandardOpenOption.WRITE))) {
                    flatbuffer = build(checkpoint, sink, 0);
                    sink.channel.force(true);
                }
            } else {
                flatbuffer = build(checkpoint, null, tensorBytes);
            }
            tempMain = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
            try (FileChannel out = FileChannel.open(tempMain, StandardOpenOption.WRITE)) {
                while (flatbuffer.hasRemaining()) {
                    out.write(flatbuffer);
                }
                out.force(true);
            }
            if (external) {
                move(tempData, dataTarget);
                tempData = null;
            }
            move(tempMain, target);
            tempMain = null;
            if (!external) {
                // A side file left by an earlier checkpoint of this name belongs to nothing now.
                Files.deleteIfExists(dataTarget);
            }
            syncDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target, e);
        } finally {
            deleteQuietly(tempMain);
            deleteQuietly(tempData);
        }
    }

    /** The checkpoint as one flatbuffer with all tensor bytes inline (position 0 to limit). */
    public static ByteBuffer toBuffer(Checkpoint checkpoint) {
        long tensorBytes = tensorBytes(checkpoint);
        if (tensorBytes > MAX_INLINE_BYTES) {
            throw new IllegalArgumentException("checkpoint tensors hold " + tensorBytes + " bytes, too many for one flatbuffer");
        }
        return build(checkpoint, null, tensorBytes);
    }

    private static long tensorBytes(Checkpoint checkpoint) {
        long total = 0;
        for (CheckpointTensor t : allTensors(checkpoint)) {
            total += t.byteSize();
        }
        return total;
    }

    private static List<CheckpointTensor> allTensors(Checkpoint checkpoint) {
        List<CheckpointTensor> all = new ArrayList<>(checkpoint.trainable());
        all.addAll(checkpoint.frozen());
        for (OptimizerGroup g : checkpoint.optimizerGroups()) {
            for (List<CheckpointTensor> moments : g.momentsByParameter().values()) {
                all.addAll(moments);
            }
        }
        return all;
    }

    private static ByteBuffer build(Checkpoint checkpoint, DataSink sink, long inlineBytes) throws UncheckedIOException {
        int tensorCount = allTensors(checkpoint).size();
        long estimate = inlineBytes + (long) tensorCount * (128 + INLINE_ALIGNMENT) + 4096;
        FlatBufferBuilder b = new FlatBufferBuilder((int) Math.min(estimate, Integer.MAX_VALUE - 16));

        int trainable = tensorVector(b, checkpoint.trainable(), sink);
        int frozen = tensorVector(b, checkpoint.frozen(), sink);
        b.startTable(ModuleStateT.FIELDS);
        b.addOffset(ModuleStateT.REQUIRES_GRAD_PARAMS, trainable, 0);
        b.addOffset(ModuleStateT.FROZEN_PARAMS, frozen, 0);
        b.addBoolean(ModuleStateT.HAS_EXTERNAL_DATA, sink != null, false);
        int moduleState = b.endTable();

        int[] groups = new int[checkpoint.optimizerGroups().size()];
        for (int i = 0; i < groups.length; i++) {
            groups[i] = optimizerGroup(b, checkpoint.optimizerGroups().get(i), sink);
        }
        int optimizerGroups = b.createVectorOfTables(groups);

        int propertyBag = propertyBag(b, checkpoint.properties());

        b.startTable(CheckpointT.FIELDS);
        b.addInt(CheckpointT.VERSION, CheckpointSchema.VERSION, 0);
        b.addOffset(CheckpointT.MODULE_STATE, moduleState, 0);
        b.addOffset(CheckpointT.OPTIMIZER_GROUPS, optimizerGroups, 0);
        b.addOffset(CheckpointT.PROPERTY_BAG, propertyBag, 0);
        int root = b.endTable();
        b.finish(root, CheckpointSchema.FILE_IDENTIFIER);
        return b.dataBuffer().slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int optimizerGroup(FlatBufferBuilder b, OptimizerGroup group, DataSink sink) {
        List<Map.Entry<String, List<CheckpointTensor>>> params = new ArrayList<>(group.momentsByParameter().entrySet());
        int[] states = new int[params.size()];
        for (int i = 0; i < states.length; i++) {
            int paramName = b.createString(params.get(i).getKey());
            int momentums = tensorVector(b, params.get(i).getValue(), sink);
            b.startTable(ParameterOptimizerStateT.FIELDS);
            b.addOffset(ParameterOptimizerStateT.PARAM_NAME, paramName, 0);
            b.addOffset(ParameterOptimizerStateT.MOMENTUMS, momentums, 0);
            states[i] = b.endTable();
        }
        int optimizerStates = b.createVectorOfTables(states);
        int groupName = b.createString(group.name());
        b.startTable(OptimizerGroupT.FIELDS);
        b.addOffset(OptimizerGroupT.GROUP_NAME, groupName, 0);
        b.addLong(OptimizerGroupT.STEP, group.step(), 0L);
        b.addFloat(OptimizerGroupT.INITIAL_LEARNING_RATE, group.initialLearningRate(), 0.0);
        b.addOffset(OptimizerGroupT.OPTIMIZER_STATES, optimizerStates, 0);
        return b.endTable();
    }

    private static int propertyBag(FlatBufferBuilder b, Map<String, Object> properties) {
        List<Integer> ints = new ArrayList<>();
        List<Integer> floats = new ArrayList<>();
        List<Integer> strings = new ArrayList<>();
        for (Map.Entry<String, Object> e : properties.entrySet()) {
            int name = b.createString(e.getKey());
            switch (e.getValue()) {
                case Long l -> {
                    b.startTable(PropertyT.FIELDS);
                    b.addOffset(PropertyT.NAME, name, 0);
                    b.addLong(PropertyT.VALUE, l, 0L);
                    ints.add(b.endTable());
                }
                case Float f -> {
                    b.startTable(PropertyT.FIELDS);
                    b.addOffset(PropertyT.NAME, name, 0);
                    b.addFloat(PropertyT.VALUE, f, 0.0);
                    floats.add(b.endTable());
                }
                case String s -> {
                    int value = b.createString(s);
                    b.startTable(PropertyT.FIELDS);
                    b.addOffset(PropertyT.NAME, name, 0);
                    b.addOffset(PropertyT.VALUE, value, 0);
                    strings.add(b.endTable());
                }
                default -> throw new IllegalStateException("property '" + e.getKey() + "' has type "
                        + e.getValue().getClass().getName());
            }
        }
        int intsVector = b.createVectorOfTables(ints.stream().mapToInt(Integer::intValue).toArray());
        int floatsVector = b.createVectorOfTables(floats.stream().mapToInt(Integer::intValue).toArray());
        int stringsVector = b.createVectorOfTables(strings.stream().mapToInt(Integer::intValue).toArray());
        b.startTable(PropertyBagT.FIELDS);
        b.addOffset(PropertyBagT.INTS, intsVector, 0);
        b.addOffset(PropertyBagT.FLOATS, floatsVector, 0);
        b.addOffset(PropertyBagT.STRINGS, stringsVector, 0);
        return b.endTable();
    }

    private static int tensorVector(FlatBufferBuilder b, List<CheckpointTensor> tensors, DataSink sink) {
        int[] offsets = new int[tensors.size()];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = tensor(b, tensors.get(i), sink);
        }
        return b.createVectorOfTables(offsets);
    }

    private static int tensor(FlatBufferBuilder b, CheckpointTensor t, DataSink sink) {
        int name = b.createString(t.name());
        long[] dims = t.dims();
        b.startVector(8, dims.length, 8);
        for (int i = dims.length - 1; i >= 0; i--) {
            b.addLong(dims[i]);
        }
        int dimsVector = b.endVector();
        int raw = 0;
        long externalOffset = TensorT.NO_EXTERNAL_DATA;
        if (sink != null) {
            externalOffset = sink.append(t.rawLittleEndian());
        } else {
            ByteBuffer source = t.rawLittleEndian();
            ByteBuffer destination = b.createUnintializedVector(1, source.remaining(), INLINE_ALIGNMENT);
            destination.put(source);
            raw = b.endVector();
        }
        b.startTable(TensorT.FIELDS);
        b.addOffset(TensorT.NAME, name, 0);
        b.addOffset(TensorT.DIMS, dimsVector, 0);
        b.addInt(TensorT.DATA_TYPE, t.dtype().onnxCode, 0);
        if (sink == null) {
            b.addOffset(TensorT.RAW_DATA, raw, 0);
        } else {
            b.addLong(TensorT.EXTERNAL_DATA_OFFSET, externalOffset, TensorT.NO_EXTERNAL_DATA);
        }
        return b.endTable();
    }

    /** Appends tensor bytes to the external data file, each at an aligned offset. */
    private static final class DataSink implements AutoCloseable {
        final FileChannel channel;
        private long position;

        DataSink(FileChannel channel) {
            this.channel = channel;
        }

        long append(ByteBuffer bytes) {
            try {
                long pad = (EXTERNAL_ALIGNMENT - position % EXTERNAL_ALIGNMENT) % EXTERNAL_ALIGNMENT;
                if (pad > 0) {
                    writeFully(ByteBuffer.allocate((int) pad));
                }
                long offset = position;
                writeFully(bytes);
                return offset;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write external checkpoint data", e);
            }
        }

        private void writeFully(ByteBuffer bytes) throws IOException {
            while (bytes.hasRemaining()) {
                position += channel.write(bytes, position);
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every platform lets a directory be synced; the rename itself is still atomic
        }
    }

    private static void deleteQuietly(Path path) {
        if (path != null) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // best effort: a leftover hidden temp file is harmless
            }
        }
    }
}
