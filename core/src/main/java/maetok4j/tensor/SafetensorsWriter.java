package maetok4j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a safetensors file whose tensors arrive in pieces (batches of rows), so outputs larger than
 * memory can be produced. Shapes are declared up front; rows are written at their offsets into a temp
 * file that replaces the target only on {@link #commit()}. Closing without commit leaves no file.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** A tensor's declared type and full shape. */
    public record Spec(DataType dtype, long... shape) {

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
    }

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final Map<String, Spec> specs;
    private final Map<String, Long> offsets = new LinkedHashMap<>();
    private final long dataStart;
    private boolean committed;

    private SafetensorsWriter(Path target, Map<String, Spec> specs, Map<String, String> metadata) throws IOException {
        this.target = target;
        this.specs = new LinkedHashMap<>(specs);
        ObjectNode header = new ObjectMapper().createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, Spec> e : specs.entrySet()) {
            Spec s = e.getValue();
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", Safetensors.dtypeName(s.dtype()));
            var shape = t.putArray("shape");
            Arrays.stream(s.shape()).forEach(shape::add);
            var off = t.putArray("data_offsets");
            off.add(offset);
            offsets.put(e.getKey(), offset);
            offset += s.bytes();
            off.add(offset);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        this.temp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        this.channel = FileChannel.open(temp, StandardOpenOption.WRITE);
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        channel.write(head, 0);
        this.dataStart = 8L + padded;
    }

    /** Starts the file; nothing appears at {@code target} until {@link #commit()}. */
    public static SafetensorsWriter create(Path target, Map<String, Spec> specs, Map<String, String> metadata) {
        try {
            return new SafetensorsWriter(target, specs, metadata);
        } catch (IOException e) {
            throw new TensorFileException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Writes {@code rows} (shape [n, ...] matching the declared row shape) at row {@code firstRow} of tensor {@code name}. */
    public void write(String name, long firstRow, NDArray rows) {
        Spec s = specs.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' was declared");
        }
        long[] shape = rows.getShape().getShape();
        boolean scalar = s.shape().length == 0;
        boolean rowShapeOk = shape.length == s.shape().length && (scalar
                || Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), Arrays.copyOfRange(s.shape(), 1, s.shape().length)));
        boolean inRange = scalar ? firstRow == 0 : firstRow >= 0 && firstRow + shape[0] <= s.shape()[0];
        if (!rowShapeOk || rows.getDataType() != s.dtype() || !inRange) {
            throw new IllegalArgumentException("tensor '" + name + "': cannot put " + rows.getDataType() + " " + rows.getShape()
                    + " at row " + firstRow + " of " + s.dtype() + " " + Arrays.toString(s.shape()));
        }
        ByteBuffer data = rows.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long position = dataStart + offsets.get(name) + firstRow * s.rowBytes();
        try {
            while (data.hasRemaining()) {
                position += channel.write(data, position);
            }
        } catch (IOException e) {
            throw new TensorFileException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Makes the file complete (sized to the declared shapes), durable, and visible at the target path. */
    public void commit() {
        try {
            long end = dataStart + specs.values().stream().mapToLong(Spec::bytes).sum();
            if (channel.size() < end) {
                channel.write(ByteBuffer.allocate(1), end - 1);
            }
            channel.force(true);
            channel.close();
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            committed = true;
        } catch (IOException e) {
            throw new TensorFileException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (!committed) {
            try {
                channel.close();
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // the temp file is hidden and named after the target; nothing else to undo
            }
        }
    }
}
