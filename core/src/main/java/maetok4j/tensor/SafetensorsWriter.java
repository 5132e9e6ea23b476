package maetok4j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Writes a safetensors file whose tensors arrive in pieces (batches of rows), so outputs larger than memory can
 * be produced. Shapes are declared up front; rows are written at their offsets into a temp file that replaces
 * the target only on {@link #commit()} (see {@link AtomicFiles}). Closing without commit leaves no file.
 *
 * <p>{@link #writeRaw} writes whole tensors given as bytes instead, for data that never was an engine array
 * (weights converted from a PyTorch checkpoint, in dtypes such as BF16 and I16 that the engine cannot hold).
 * Both write the same header.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** The dtypes {@link Safetensors} reads, with their element size in bytes: what {@link RawTensor} accepts. */
    private static final Map<String, Integer> RAW_DTYPES = Map.of("F64", 8, "F32", 4, "F16", 2, "BF16", 2,
            "I64", 8, "I32", 4, "I16", 2, "I8", 1, "U8", 1, "BOOL", 1);

    /** A tensor's declared type and full shape. */
    public record Spec(DataType dtype, long... shape) {

        /** @throws IllegalArgumentException for a type safetensors cannot hold here, or a negative dimension */
        public Spec {
            Safetensors.dtypeName(dtype);
            shape = shape.clone();
            if (Arrays.stream(shape).anyMatch(d -> d < 0)) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        long rowBytes() {
            long n = dtype.getNumOfBytes();
            for (int i = 1; i < shape.length; i++) {
                n = Math.multiplyExact(n, shape[i]);
            }
            return n;
        }

        long bytes() {
            return shape.length == 0 ? dtype.getNumOfBytes() : Math.multiplyExact(rowBytes(), shape[0]);
        }

        private Layout layout() {
            return new Layout(Safetensors.dtypeName(dtype), shape, bytes());
        }
    }

    /**
     * A whole tensor as safetensors stores it: a dtype name ("F32", "BF16", "I16", ... as {@link Safetensors}
     * reads them), a shape, and the elements in C order as little-endian bytes. The bytes are not copied, since
     * weights can be large; do not modify them before they are written.
     */
    public record RawTensor(String dtype, long[] shape, byte[] data) {

        /** @throws IllegalArgumentException for an unknown dtype, a negative dimension, or a byte count not matching */
        public RawTensor {
            Integer size = RAW_DTYPES.get(dtype);
            if (size == null) {
                throw new IllegalArgumentException("dtype " + dtype + " is not one of "
                        + new TreeSet<>(RAW_DTYPES.keySet()));
            }
            shape = shape.clone();
            if (Arrays.stream(shape).anyMatch(d -> d < 0)) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            long bytes = Arrays.stream(shape).reduce(size, Math::multiplyExact);
            if (data.length != bytes) {
                throw new IllegalArgumentException(dtype + " " + Arrays.toString(shape) + " needs " + bytes
                        + " bytes, got " + data.length);
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public String toString() {
            return dtype + " " + Arrays.toString(shape);
        }

        private Layout layout() {
            return new Layout(dtype, shape, data.length);
        }
    }

    /** What the header says about one tensor, whichever way its data arrives. */
    private record Layout(String dtype, long[] shape, long bytes) {}

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final Map<String, Spec> specs;
    private final Map<String, Long> offsets = new LinkedHashMap<>();
    private final long dataStart;
    private boolean committed;

    private SafetensorsWriter(Path target, Path temp, FileChannel channel, Map<String, Spec> specs, byte[] header) throws IOException {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        this.specs = new LinkedHashMap<>(specs);
        long offset = 0;
        for (Map.Entry<String, Spec> e : specs.entrySet()) {
            offsets.put(e.getKey(), offset);
            offset += e.getValue().bytes();
        }
        ByteBuffer head = ByteBuffer.wrap(header);
        long position = 0;
        while (head.hasRemaining()) {
            position += channel.write(head, position);
        }
        this.dataStart = header.length;
    }

    /**
     * Starts the file; nothing appears at {@code target} until {@link #commit()}.
     *
     * @throws IllegalArgumentException for a tensor named __metadata__, which would corrupt the header
     * @throws TensorFileException "&lt;target&gt;: cannot write: &lt;reason&gt;" on I/O errors
     */
    public static SafetensorsWriter create(Path target, Map<String, Spec> specs, Map<String, String> metadata) {
        Map<String, Layout> layouts = new LinkedHashMap<>();
        specs.forEach((name, spec) -> layouts.put(name, spec.layout()));
        byte[] header = header(target, layouts, metadata);
        Path temp = null;
        FileChannel channel = null;
        try {
            temp = AtomicFiles.newTempFile(target);
            channel = FileChannel.open(temp, StandardOpenOption.WRITE);
            return new SafetensorsWriter(target, temp, channel, specs, header);
        } catch (IOException e) {
            closeQuietly(channel);
            if (temp != null) {
                AtomicFiles.deleteQuietly(temp);
            }
            throw new TensorFileException(target + ": cannot write: " + AtomicFiles.describe(e), e);
        }
    }

    /**
     * Writes whole tensors in the given order, atomically (see {@link AtomicFiles}), with the same header as
     * {@link #create}.
     *
     * @throws IllegalArgumentException for a tensor named __metadata__, which would corrupt the header
     * @throws TensorFileException "&lt;target&gt;: cannot write: &lt;reason&gt;" on I/O errors
     */
    public static void writeRaw(Path target, Map<String, RawTensor> tensors, Map<String, String> metadata) {
        Map<String, Layout> layouts = new LinkedHashMap<>();
        tensors.forEach((name, t) -> layouts.put(name, t.layout()));
        byte[] header = header(target, layouts, metadata);
        AtomicFiles.write(target, temp -> {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(temp))) {
                out.write(header);
                for (RawTensor t : tensors.values()) {
                    out.write(t.data());
                }
            }
        });
    }

    /**
     * The length field and JSON header, metadata first and tensors contiguous in the given order, padded with
     * spaces to a multiple of 8 bytes as the reference writer does (so the data section stays 8-byte aligned).
     *
     * @throws IllegalArgumentException for a tensor named __metadata__, which would corrupt the header
     */
    private static byte[] header(Path target, Map<String, Layout> tensors, Map<String, String> metadata) {
        if (tensors.containsKey("__metadata__")) {
            throw new IllegalArgumentException(target + ": a tensor cannot be named __metadata__");
        }
        ObjectNode header = new ObjectMapper().createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Layout> e : tensors.entrySet()) {
            Layout l = e.getValue();
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", l.dtype());
            var shape = t.putArray("shape");
            Arrays.stream(l.shape()).forEach(shape::add);
            var off = t.putArray("data_offsets");
            off.add(offset);
            offset = Math.addExact(offset, l.bytes());
            off.add(offset);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        return head.array();
    }

    /** Writes {@code rows} (shape [n, ...] matching the declared row shape) at row {@code firstRow} of tensor {@code name}. */
    public void write(String name, long firstRow, NDArray rows) {
        Spec s = specs.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' was declared");
        }
        long[] declared = s.shape();
        long[] shape = rows.getShape().getShape();
        boolean scalar = declared.length == 0;
        boolean rowShapeOk = shape.length == declared.length && (scalar
                || Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), Arrays.copyOfRange(declared, 1, declared.length)));
        boolean inRange = scalar ? firstRow == 0 : firstRow >= 0 && firstRow <= declared[0] - shape[0];
        if (!rowShapeOk || rows.getDataType() != s.dtype() || !inRange) {
            throw new IllegalArgumentException("tensor '" + name + "': cannot put " + rows.getDataType() + " " + rows.getShape()
                    + " at row " + firstRow + " of " + s.dtype() + " " + Arrays.toString(declared));
        }
        // C order and native (little-endian on every platform the engine ships for), even for transposed views.
        ByteBuffer data = rows.toByteBuffer();
        long position = dataStart + offsets.get(name) + firstRow * s.rowBytes();
        try {
            while (data.hasRemaining()) {
                position += channel.write(data, position);
            }
        } catch (IOException e) {
            throw new TensorFileException(target + ": cannot write: " + AtomicFiles.describe(e), e);
        }
    }

    /** Makes the file complete (rows never written are zeros), durable, and visible at the target path. */
    public void commit() {
        try {
            long end = dataStart + specs.values().stream().mapToLong(Spec::bytes).sum();
            if (channel.size() < end) {
                channel.write(ByteBuffer.allocate(1), end - 1);
            }
            channel.close();
            AtomicFiles.moveInto(temp, target);
            committed = true;
        } catch (IOException e) {
            throw new TensorFileException(target + ": cannot write: " + AtomicFiles.describe(e), e);
        }
    }

    /** Discards the file unless it was committed. */
    @Override
    public void close() {
        if (!committed) {
            closeQuietly(channel);
            AtomicFiles.deleteQuietly(temp);
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            if (ch != null) {
                ch.close();
            }
        } catch (IOException ignored) {
            // The file is being discarded.
        }
    }
}
