package maetok4j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file (8-byte little-endian header length, JSON header, raw little-endian data). Checkpoints and
 * tensor files come from elsewhere, so the whole header is validated when the file is opened (lengths, JSON,
 * dtypes, shapes against byte ranges, ranges against the file size, overlaps) before anything large is
 * allocated, and every problem is reported as one line naming the file. Tensors are then read one at a time
 * with positional reads, so files larger than memory or than 2 GB work, and several threads may read at once.
 */
public final class Safetensors implements AutoCloseable {

    /** A larger header is not a real one (the reference implementation's limit). */
    public static final long MAX_HEADER = 100L * 1024 * 1024;
    /** The largest byte buffer, hence tensor (or piece of one), that can be handed to the engine at once. */
    private static final long MAX_READ = Integer.MAX_VALUE - 8;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** Types {@link #readAs} may convert to: the PyTorch engine aborts the JVM on BFLOAT16, INT16 and UINT16 arrays. */
    private static final Set<DataType> ENGINE_TYPES = EnumSet.of(DataType.FLOAT64, DataType.FLOAT32, DataType.FLOAT16,
            DataType.INT64, DataType.INT32, DataType.INT8, DataType.UINT8, DataType.BOOLEAN);

    /** The dtypes read, with their element size and the type their bytes are given to the engine as. */
    private enum Dtype {
        F64(8, DataType.FLOAT64), F32(4, DataType.FLOAT32), F16(2, DataType.FLOAT16),
        BF16(2, DataType.FLOAT32), // widened in Java (see ENGINE_TYPES)
        I64(8, DataType.INT64), I32(4, DataType.INT32),
        I16(2, DataType.INT32), // widened in Java (see ENGINE_TYPES)
        I8(1, DataType.INT8), U8(1, DataType.UINT8), BOOL(1, DataType.BOOLEAN);

        final int bytes;
        final DataType engineType;

        Dtype(int bytes, DataType engineType) {
            this.bytes = bytes;
            this.engineType = engineType;
        }

        boolean widened() {
            return engineType.getNumOfBytes() > bytes;
        }

        static Dtype of(String name) {
            for (Dtype d : values()) {
                if (d.name().equals(name)) {
                    return d;
                }
            }
            return null;
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private Safetensors(Path file, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Opens and validates a file, reading only its header.
     *
     * @throws TensorFileException "&lt;file&gt;: &lt;problem&gt;" if it cannot be read or is not a valid safetensors file
     */
    public static Safetensors open(Path file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot open: " + AtomicFiles.describe(e), e);
        }
        try {
            return parse(file, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new TensorFileException(file + ": cannot read: " + AtomicFiles.describe(e), e);
        }
    }

    private static Safetensors parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new TensorFileException(file + ": not a safetensors file (" + size
                    + " bytes, shorter than the 8-byte header length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.getLong(0);
        String length = file + ": header length " + Long.toUnsignedString(n);
        if (n == 0) {
            throw new TensorFileException(length + " is empty (not a safetensors file)");
        }
        if (n < 0 || n > MAX_HEADER) {
            throw new TensorFileException(length + " exceeds the limit of " + MAX_HEADER + " bytes (not a safetensors file)");
        }
        if (n > size - 8) {
            throw new TensorFileException(length + " exceeds the " + (size - 8)
                    + " bytes that follow it (truncated or not a safetensors file)");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(ch, headerBuf, 8);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(headerBuf.flip()).toString();
        } catch (CharacterCodingException e) {
            throw new TensorFileException(file + ": header is not UTF-8");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new TensorFileException(file + ": header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new TensorFileException(file + ": header is not a JSON object");
        }
        long dataSize = size - 8 - n;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                parseMetadata(file, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), parseEntry(file, e.getKey(), e.getValue(), dataSize));
            }
        }
        checkOverlaps(file, tensors);
        return new Safetensors(file, ch, 8 + n, tensors, metadata);
    }

    private static void parseMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) {
            throw new TensorFileException(file + ": __metadata__ is not an object");
        }
        node.fields().forEachRemaining(m -> {
            if (!m.getValue().isTextual()) {
                throw new TensorFileException(file + ": __metadata__ value '" + m.getKey() + "' is not a string");
            }
            out.put(m.getKey(), m.getValue().asText());
        });
    }

    private static TensorInfo parseEntry(Path file, String name, JsonNode v, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        if (!v.isObject()) {
            throw new TensorFileException(where + ": entry is not an object");
        }
        for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("dtype") && !f.equals("shape") && !f.equals("data_offsets")) {
                throw new TensorFileException(where + ": unexpected field '" + f + "'");
            }
        }
        JsonNode dt = v.get("dtype");
        Dtype dtype = dt != null && dt.isTextual() ? Dtype.of(dt.asText()) : null;
        if (dtype == null) {
            throw new TensorFileException(where + ": unknown or missing dtype " + dt + " (supported: "
                    + Arrays.toString(Dtype.values()) + ")");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new TensorFileException(where + ": missing or malformed shape " + sh);
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(sh.get(i));
            if (shape[i] < 0) {
                throw new TensorFileException(where + ": shape " + sh + " has an invalid dimension " + sh.get(i));
            }
        }
        JsonNode off = v.get("data_offsets");
        long begin = off != null && off.isArray() && off.size() == 2 ? nonNegativeLong(off.get(0)) : -1;
        long end = begin >= 0 ? nonNegativeLong(off.get(1)) : -1;
        if (end < 0) {
            throw new TensorFileException(where + ": data_offsets must be two non-negative integers, got " + off);
        }
        if (end < begin) {
            throw new TensorFileException(where + ": data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        TensorInfo info = new TensorInfo(name, dtype.name(), shape, begin, end);
        long need;
        try {
            need = Math.multiplyExact(info.numel(), dtype.bytes);
        } catch (ArithmeticException e) {
            throw new TensorFileException(where + ": shape " + sh + " " + dtype + " is too large (over 2^63 bytes)");
        }
        if (end - begin != need) {
            throw new TensorFileException(where + ": shape " + sh + " " + dtype + " needs " + need
                    + " bytes but offsets give " + (end - begin));
        }
        if (end > dataSize) {
            throw new TensorFileException(where + ": offsets past end of file (" + end + " > " + dataSize
                    + " data bytes; truncated?)");
        }
        return info;
    }

    /** The value of an integral JSON number that fits a long and is not negative; -1 for anything else. */
    private static long nonNegativeLong(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToLong() && n.asLong() >= 0 ? n.asLong() : -1;
    }

    private static void checkOverlaps(Path file, Map<String, TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1);
            TensorInfo b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new TensorFileException(file + ": tensors '" + a.name() + "' [" + a.begin() + ", " + a.end()
                        + ") and '" + b.name() + "' [" + b.begin() + ", " + b.end() + ") overlap");
            }
        }
    }

    public Path file() {
        return file;
    }

    /** Tensors in header order, which is the order their writer chose (Python's safetensors keeps insertion order). */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The header's {@code __metadata__} (e.g. {"format": "pt"}); empty if it has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** @throws TensorFileException naming the tensors the file does have, so a wrong key is easy to fix */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new TensorFileException(file + ": no tensor '" + name + "' (has: " + String.join(", ", tensors.keySet()) + ")");
        }
        return t;
    }

    /**
     * Reads a tensor into a new native array owned by {@code manager}, sharing no memory with the file or any
     * buffer, so closing the array (or its manager) frees it at once. F16 and BF16 become FLOAT32 and I16
     * becomes INT32, losslessly (the engine computes in float32 and cannot hold BF16 or I16); the other types
     * keep theirs.
     */
    public NDArray read(String name, NDManager manager) {
        TensorInfo t = info(name);
        return readRows(name, 0, t.shape().length == 0 ? 1 : t.shape()[0], manager);
    }

    /** Reads then converts, e.g. a checkpoint's tensors to float32 whatever they were stored as. */
    public NDArray readAs(String name, NDManager manager, DataType type) {
        if (!ENGINE_TYPES.contains(type)) {
            throw new IllegalArgumentException("cannot convert tensors to " + type + ": the PyTorch engine aborts on it");
        }
        return convert(read(name, manager), type);
    }

    /**
     * Rows {@code [first, first+count)} of a tensor's first axis (a scalar has one row), converted as by
     * {@link #read}, without reading the rest of it: datasets and latent stores read batches this way.
     */
    public NDArray readRows(String name, long first, long count, NDManager manager) {
        TensorInfo t = info(name);
        Dtype dtype = Dtype.valueOf(t.dtype());
        long[] shape = t.shape();
        if (shape.length > 0) {
            shape[0] = count;
        }
        ByteBuffer data = dtype.widened()
                ? widen(readBytes(t, first, count, false, 2), dtype == Dtype.BF16)
                : readBytes(t, first, count, true, 1);
        // DJL's PyTorch engine wraps a direct buffer without copying it, and such memory is only freed by the
        // garbage collector: copy it into memory of the array's own, freed when the array is closed.
        try (NDArray view = manager.create(data, new Shape(shape), dtype.engineType)) {
            NDArray own = view.duplicate();
            return dtype == Dtype.F16 ? convert(own, DataType.FLOAT32) : own;
        }
    }

    /**
     * The raw little-endian bytes of rows {@code [first, first+count)} in a heap buffer, without touching
     * native memory: cheap for small reads (a label, one latent), and safe to call from several threads.
     */
    public ByteBuffer rowBytes(String name, long first, long count) {
        return readBytes(info(name), first, count, false, 1);
    }

    /**
     * Reads rows into a new little-endian buffer, after checking that they exist and that they will still fit
     * one buffer once each element grows {@code growth} times.
     */
    private ByteBuffer readBytes(TensorInfo t, long first, long count, boolean direct, int growth) {
        long[] shape = t.shape();
        long rows = shape.length == 0 ? 1 : shape[0];
        if (first < 0 || count < 0 || count > rows - first) {
            throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' has " + rows + " rows, asked for "
                    + count + " from row " + first);
        }
        long rowBytes = rows == 0 ? 0 : (t.end() - t.begin()) / rows;
        long bytes = rowBytes * count;
        if (bytes * growth > MAX_READ) {
            throw new TensorFileException(file + ": tensor '" + t.name() + "': " + count + " rows take " + bytes * growth
                    + " bytes, more than one array can be read into (2 GB); read fewer rows");
        }
        ByteBuffer buf = (direct ? ByteBuffer.allocateDirect((int) bytes) : ByteBuffer.allocate((int) bytes))
                .order(ByteOrder.LITTLE_ENDIAN);
        try {
            readFully(channel, buf, dataStart + t.begin() + first * rowBytes);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read tensor '" + t.name() + "': " + AtomicFiles.describe(e), e);
        }
        return buf.flip();
    }

    /** 16-bit elements to 32-bit ones: bfloat16 is the upper half of a float32, int16 is sign-extended. */
    private static ByteBuffer widen(ByteBuffer in, boolean bf16) {
        ByteBuffer out = ByteBuffer.allocateDirect(in.remaining() * 2).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            short s = in.getShort();
            out.putInt(bf16 ? (s & 0xffff) << 16 : s);
        }
        return out.flip();
    }

    private static NDArray convert(NDArray a, DataType type) {
        if (a.getDataType() == type) {
            return a;
        }
        NDArray b = a.toType(type, false);
        a.close();
        return b;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, position);
            if (r < 0) {
                throw new IOException("unexpected end of file (changed since it was opened?)");
            }
            position += r;
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // A read-only channel: nothing can be lost.
        }
    }

    /**
     * Writes whole tensors in the given order, atomically (see {@link AtomicFiles}), one tensor in memory at a
     * time. Array names are ignored: the map keys name the tensors.
     *
     * @throws IllegalArgumentException for a data type safetensors cannot hold here, or a tensor named __metadata__
     * @throws TensorFileException "&lt;file&gt;: cannot write: &lt;reason&gt;" on I/O errors
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) {
        Map<String, SafetensorsWriter.Spec> specs = new LinkedHashMap<>();
        tensors.forEach((k, v) -> specs.put(k, new SafetensorsWriter.Spec(v.getDataType(), v.getShape().getShape())));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, metadata)) {
            tensors.forEach((k, v) -> w.write(k, 0, v));
            w.commit();
        }
    }

    /** The safetensors name of a DJL data type that can be written. */
    static String dtypeName(DataType type) {
        switch (type) {
            case FLOAT64: return "F64";
            case FLOAT32: return "F32";
            case FLOAT16: return "F16";
            case BFLOAT16: return "BF16";
            case INT64: return "I64";
            case INT32: return "I32";
            case INT8: return "I8";
            case UINT8: return "U8";
            case BOOLEAN: return "BOOL";
            default: throw new IllegalArgumentException("data type " + type + " cannot be written to safetensors");
        }
    }
}
