package maetok4j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file (8-byte little-endian header length, JSON header, raw little-endian data). The
 * header is validated completely when the file is opened: lengths, JSON, dtypes, shapes against byte
 * ranges, ranges against the file size, overlaps. Tensors are then read one at a time with positional
 * reads, so files larger than memory or than 2 GB work.
 */
public final class Safetensors implements AutoCloseable {

    /** A larger header is not a real one. */
    public static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Integer> DTYPE_BYTES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1),
            Map.entry("U8", 1), Map.entry("BOOL", 1));

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private Safetensors(Path file, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

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
            throw new TensorFileException(file + ": not a safetensors file (" + size + " bytes, shorter than the 8-byte header length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.getLong(0);
        if (n <= 0 || n > size - 8 || n > MAX_HEADER) {
            throw new TensorFileException(file + ": header length " + Long.toUnsignedString(n) + " is impossible for a file of "
                    + size + " bytes (truncated or not a safetensors file)");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(ch, headerBuf, 8);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(headerBuf.flip()).toString();
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
        if (dt == null || !dt.isTextual() || !DTYPE_BYTES.containsKey(dt.asText())) {
            throw new TensorFileException(where + ": unknown or missing dtype " + dt + " (supported: " + String.join(", ", DTYPE_BYTES.keySet()) + ")");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new TensorFileException(where + ": missing or malformed shape " + sh);
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new TensorFileException(where + ": shape " + sh + " has an invalid dimension " + d);
            }
            shape[i] = d.asLong();
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new TensorFileException(where + ": data_offsets must be two integers, got " + off);
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new TensorFileException(where + ": data_offsets [" + begin + ", " + end + "] are not an increasing pair");
        }
        long need;
        try {
            need = 1;
            for (long d : shape) {
                need = Math.multiplyExact(need, d);
            }
            need = Math.multiplyExact(need, DTYPE_BYTES.get(dt.asText()));
        } catch (ArithmeticException e) {
            throw new TensorFileException(where + ": shape " + sh + " is too large");
        }
        if (end - begin != need) {
            throw new TensorFileException(where + ": shape " + sh + " " + dt.asText() + " needs " + need
                    + " bytes but offsets give " + (end - begin));
        }
        if (end > dataSize) {
            throw new TensorFileException(where + ": offsets past end of file (" + end + " > " + dataSize
                    + " data bytes; truncated?)");
        }
        return new TensorInfo(name, dt.asText(), shape, begin, end);
    }

    private static void checkOverlaps(Path file, Map<String, TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1);
            TensorInfo b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new TensorFileException(file + ": tensors '" + a.name() + "' and '" + b.name() + "' overlap");
            }
        }
    }

    public Path file() {
        return file;
    }

    /** Tensors in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new TensorFileException(file + ": no tensor '" + name + "' (has: " + String.join(", ", tensors.keySet()) + ")");
        }
        return t;
    }

    /**
     * Reads a tensor into a new native array owned by {@code manager}. F16 and BF16 become float32; other
     * types keep theirs.
     */
    public NDArray read(String name, NDManager manager) {
        TensorInfo t = info(name);
        long rows = t.shape().length == 0 ? 1 : t.shape()[0];
        return readRows(name, 0, rows, manager);
    }

    /** Reads then converts, e.g. a checkpoint's tensors to float32 whatever they were stored as. */
    public NDArray readAs(String name, NDManager manager, DataType type) {
        NDArray a = read(name, manager);
        if (a.getDataType() == type) {
            return a;
        }
        NDArray b = a.toType(type, true);
        a.close();
        return b;
    }

    /** Rows {@code [first, first+count)} of a tensor's first axis, without reading the rest of it. */
    public NDArray readRows(String name, long first, long count, NDManager manager) {
        TensorInfo t = info(name);
        long[] shape = t.shape().clone();
        long total = shape.length == 0 ? 1 : shape[0];
        if (first < 0 || count < 0 || first + count > total) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' has " + total + " rows, asked for ["
                    + first + ", " + (first + count) + ")");
        }
        int elementBytes = DTYPE_BYTES.get(t.dtype());
        long rowBytes = total == 0 ? 0 : (t.end() - t.begin()) / Math.max(total, 1);
        long bytes = rowBytes * count;
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new TensorFileException(file + ": tensor '" + name + "' piece of " + bytes + " bytes is too large to read at once");
        }
        if (shape.length > 0) {
            shape[0] = count;
        }
        ByteBuffer buf = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        try {
            readFully(channel, buf, dataStart + t.begin() + first * rowBytes);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read tensor '" + name + "': " + AtomicFiles.describe(e), e);
        }
        buf.flip();
        if (t.dtype().equals("BF16")) {
            buf = bf16ToF32(buf);
            elementBytes = 4;
        }
        DataType type = t.dtype().equals("BF16") ? DataType.FLOAT32 : dataType(t.dtype());
        // DJL wraps a direct buffer without copying; duplicate so the array owns native memory of its own.
        try (NDArray view = manager.create(buf, new Shape(shape), type)) {
            NDArray out = view.duplicate();
            return t.dtype().equals("F16") ? convert(out, DataType.FLOAT32) : out;
        }
    }

    /**
     * The raw little-endian bytes of rows {@code [first, first+count)}, without touching native memory: safe to
     * call from several threads at once (positional reads).
     */
    public ByteBuffer rowBytes(String name, long first, long count) {
        TensorInfo t = info(name);
        long total = t.shape().length == 0 ? 1 : t.shape()[0];
        if (first < 0 || count < 0 || first + count > total) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' has " + total + " rows, asked for ["
                    + first + ", " + (first + count) + ")");
        }
        long rowBytes = total == 0 ? 0 : (t.end() - t.begin()) / total;
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(rowBytes * count)).order(ByteOrder.LITTLE_ENDIAN);
        try {
            readFully(channel, buf, dataStart + t.begin() + first * rowBytes);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read tensor '" + name + "': " + AtomicFiles.describe(e), e);
        }
        return buf.flip();
    }

    private static NDArray convert(NDArray a, DataType type) {
        NDArray b = a.toType(type, true);
        a.close();
        return b;
    }

    private static ByteBuffer bf16ToF32(ByteBuffer in) {
        ByteBuffer out = ByteBuffer.allocateDirect(in.remaining() * 2).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            out.putInt((in.getShort() & 0xffff) << 16);
        }
        return out.flip();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, position);
            if (r < 0) {
                throw new IOException("unexpected end of file");
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
            // read-only channel: nothing is lost
        }
    }

    /** Writes whole tensors in the given order, atomically. */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) {
        Map<String, SafetensorsWriter.Spec> specs = new LinkedHashMap<>();
        tensors.forEach((k, v) -> specs.put(k, new SafetensorsWriter.Spec(v.getDataType(), v.getShape().getShape())));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, metadata)) {
            tensors.forEach((k, v) -> w.write(k, 0, v));
            w.commit();
        }
    }

    /** The safetensors name of a DJL data type. */
    public static String dtypeName(DataType type) {
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
            default: throw new IllegalArgumentException("data type " + type + " cannot be stored in safetensors here");
        }
    }

    static DataType dataType(String name) {
        switch (name) {
            case "F64": return DataType.FLOAT64;
            case "F32": return DataType.FLOAT32;
            case "F16": return DataType.FLOAT16;
            case "I64": return DataType.INT64;
            case "I32": return DataType.INT32;
            case "I16": return DataType.INT16;
            case "I8": return DataType.INT8;
            case "U8": return DataType.UINT8;
            case "BOOL": return DataType.BOOLEAN;
            default: throw new IllegalArgumentException("dtype " + name);
        }
    }
}
