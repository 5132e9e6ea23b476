package maetok4j.tensor;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * numpy's {@code .npy} arrays and {@code .npz} archives (a zip of {@code <key>.npy} entries), as written by
 * {@code np.save}, {@code np.savez} and {@code np.savez_compressed}: the format of FID reference statistics
 * (pytorch-fid, the ADM evaluator's reference batches). Follows {@code numpy/lib/format.py}: magic
 * {@code \x93NUMPY}, version 1.0 (2-byte header length) or 2.0 (4-byte), a Python dict literal header with
 * {@code descr}, {@code fortran_order} and {@code shape}, then the raw C-order data.
 *
 * <p>Only little-endian {@code <f4 <f8 <i4 <i8} and {@code |u1} in C order are read; anything else is a
 * {@link TensorFileException} with one line naming the file, the entry and the problem. Whole arrays are read
 * into a byte array (at most 2 GB); larger ones, such as an ADM reference batch's {@code arr_0} (uint8
 * [50000, 256, 256, 3], 9.8 GB), are read a few rows at a time through {@link #openArray}. Archives are
 * written uncompressed (ZIP_STORED, as {@code np.savez}) and atomically, with the very header bytes numpy
 * writes, so numpy reads them back and an {@code .npy} entry is byte-identical to {@code np.save}'s.
 */
public final class Npz {

    /** The dtypes read and written, in numpy's {@code descr} spelling. */
    public static final List<String> DTYPES = List.of("<f4", "<f8", "<i4", "<i8", "|u1");
    /** numpy refuses larger headers by default ({@code max_header_size}); this bounds what a bad file can allocate. */
    static final int MAX_HEADER = 1 << 20;
    /** The largest array held in one Java byte array. */
    static final long MAX_BYTES = Integer.MAX_VALUE - 8;
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy pads the header so that the data starts at a multiple of this. */
    private static final int ALIGN = 64;
    /** numpy leaves room in the header for the first axis to grow to this many digits. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    private static final String SUFFIX = ".npy";
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*('([^']*)'|\\[)");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npz() {}

    /**
     * One array: its numpy dtype, shape and raw little-endian C-order bytes. The byte array is shared, not
     * copied (arrays can be large); a 0-d array has shape {@code []} and one element.
     */
    public record NpyArray(String dtype, long[] shape, byte[] data) {

        public NpyArray {
            if (!DTYPES.contains(dtype)) {
                throw new IllegalArgumentException("dtype must be one of " + DTYPES + ", got " + dtype);
            }
            shape = shape.clone();
            long size = elements(shape);
            if (size < 0 || size > MAX_BYTES / itemSize(dtype)) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " is negative or too large for one array");
            }
            if (data.length != size * itemSize(dtype)) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype + " needs "
                        + size * itemSize(dtype) + " bytes, got " + data.length);
            }
        }

        /** A float64 ({@code <f8}) array of {@code values} in C order. */
        public static NpyArray of(double[] values, long... shape) {
            ByteBuffer b = buffer(values.length, 8);
            b.asDoubleBuffer().put(values);
            return new NpyArray("<f8", shape, b.array());
        }

        /** A float32 ({@code <f4}) array of {@code values} in C order. */
        public static NpyArray of(float[] values, long... shape) {
            ByteBuffer b = buffer(values.length, 4);
            b.asFloatBuffer().put(values);
            return new NpyArray("<f4", shape, b.array());
        }

        /** An int64 ({@code <i8}) array of {@code values} in C order. */
        public static NpyArray of(long[] values, long... shape) {
            ByteBuffer b = buffer(values.length, 8);
            b.asLongBuffer().put(values);
            return new NpyArray("<i8", shape, b.array());
        }

        /** An int32 ({@code <i4}) array of {@code values} in C order. */
        public static NpyArray of(int[] values, long... shape) {
            ByteBuffer b = buffer(values.length, 4);
            b.asIntBuffer().put(values);
            return new NpyArray("<i4", shape, b.array());
        }

        /** A uint8 ({@code |u1}) array of {@code values} (read as unsigned) in C order; {@code values} is shared. */
        public static NpyArray ofUnsignedBytes(byte[] values, long... shape) {
            return new NpyArray("|u1", shape, values);
        }

        /** The number of elements: the product of the shape (1 for a 0-d array). */
        public long size() {
            return elements(shape);
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Every element as a double (exact for all dtypes but int64 beyond 2^53). */
        public double[] toDoubleArray() {
            int n = (int) size();
            double[] out = new double[n];
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            switch (dtype) {
                case "<f8" -> b.asDoubleBuffer().get(out);
                case "<f4" -> { for (int i = 0; i < n; i++) out[i] = b.getFloat(4 * i); }
                case "<i8" -> { for (int i = 0; i < n; i++) out[i] = b.getLong(8 * i); }
                case "<i4" -> { for (int i = 0; i < n; i++) out[i] = b.getInt(4 * i); }
                default -> { for (int i = 0; i < n; i++) out[i] = data[i] & 0xff; }
            }
            return out;
        }

        /** Every element as a float (float64 and large integers are rounded, as numpy's {@code astype(np.float32)}). */
        public float[] toFloatArray() {
            if (dtype.equals("<f4")) {
                float[] out = new float[(int) size()];
                ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
                return out;
            }
            if (dtype.equals("<i8")) {
                ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
                float[] out = new float[(int) size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.getLong(8 * i);
                }
                return out;
            }
            double[] d = toDoubleArray();
            float[] out = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                out[i] = (float) d[i];
            }
            return out;
        }

        @Override
        public String toString() {
            return "NpyArray[" + dtype + " " + Arrays.toString(shape) + "]";
        }

        private static ByteBuffer buffer(int elements, int itemSize) {
            if (elements > MAX_BYTES / itemSize) {
                throw new IllegalArgumentException(elements + " elements do not fit in one array");
            }
            return ByteBuffer.allocate(elements * itemSize).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /**
     * Reads a large array a block of rows (first-axis slices) at a time from an {@code .npz} entry, without
     * holding the whole array: e.g. 100 images [100, 256, 256, 3] at a time from an ADM reference batch.
     * Reading is sequential; not for use by several threads.
     */
    public static final class ArrayReader implements AutoCloseable {

        private final String where;
        private final ZipFile zip;
        private final InputStream in;
        private final Header header;
        private final long rowBytes;
        private long rowsRead;

        private ArrayReader(String where, ZipFile zip, InputStream in, Header header) {
            this.where = where;
            this.zip = zip;
            this.in = in;
            this.header = header;
            this.rowBytes = elements(Arrays.copyOfRange(header.shape, 1, header.shape.length)) * itemSize(header.dtype);
        }

        public String dtype() {
            return header.dtype;
        }

        public long[] shape() {
            return header.shape.clone();
        }

        /** The length of the first axis. */
        public long rows() {
            return header.shape[0];
        }

        public long remainingRows() {
            return rows() - rowsRead;
        }

        /**
         * The next {@code min(maxRows, remainingRows())} rows as an array of shape {@code [r, shape[1:]...]}
         * ({@code r = 0} once all rows are read).
         *
         * @throws TensorFileException when the entry ends early or cannot be read
         */
        public NpyArray readRows(int maxRows) {
            if (maxRows < 1) {
                throw new IllegalArgumentException("maxRows must be positive, got " + maxRows);
            }
            long r = Math.min(maxRows, remainingRows());
            if (r * rowBytes > MAX_BYTES) {
                throw new IllegalArgumentException(r + " rows of " + rowBytes + " bytes do not fit in one array");
            }
            long[] shape = header.shape.clone();
            shape[0] = r;
            byte[] data = readFully(in, (int) (r * rowBytes), where, rowsRead * rowBytes, header.dataBytes());
            rowsRead += r;
            return new NpyArray(header.dtype, shape, data);
        }

        @Override
        public void close() {
            try {
                zip.close();
            } catch (IOException e) {
                throw new TensorFileException(where + ": cannot close: " + AtomicFiles.describe(e), e);
            }
        }
    }

    /** Every {@code .npy} entry of an archive, by key (the entry name without {@code .npy}), in archive order. */
    public static Map<String, NpyArray> read(Path file) {
        return readEntries(file, null);
    }

    /**
     * Only the named entries, in the order given; the others are not read (so a small entry can be taken from
     * an archive whose other entries do not fit in memory).
     *
     * @throws TensorFileException naming the file and the key when an entry is missing or unreadable
     */
    public static Map<String, NpyArray> read(Path file, Collection<String> keys) {
        return readEntries(file, List.copyOf(keys));
    }

    /** The entries named by {@code keys}, or all of them when it is null. */
    private static Map<String, NpyArray> readEntries(Path file, List<String> keys) {
        try (ZipFile zip = openZip(file)) {
            Map<String, NpyArray> out = new LinkedHashMap<>();
            for (String key : keys != null ? keys : keys(zip)) {
                out.put(key, readEntry(file, zip, key));
            }
            return out;
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read: " + AtomicFiles.describe(e), e);
        }
    }

    /** The keys of an archive's {@code .npy} entries, in archive order. */
    public static List<String> keys(Path file) {
        try (ZipFile zip = openZip(file)) {
            return keys(zip);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read: " + AtomicFiles.describe(e), e);
        }
    }

    /** Opens entry {@code key} of an archive to read it row by row; it must have at least one axis. */
    public static ArrayReader openArray(Path file, String key) {
        ZipFile zip = openZip(file);
        String where = file + ": entry '" + key + "'";
        boolean opened = false;
        try {
            InputStream in = zip.getInputStream(entry(file, zip, key));
            Header header = readHeader(in, where);
            if (header.shape.length == 0) {
                throw new TensorFileException(where + ": a 0-d array has no rows to read");
            }
            ArrayReader reader = new ArrayReader(where, zip, in, header);
            opened = true;
            return reader;
        } catch (IOException e) {
            throw new TensorFileException(where + ": cannot read: " + AtomicFiles.describe(e), e);
        } finally {
            if (!opened) {
                closeQuietly(zip);
            }
        }
    }

    /** A standalone {@code .npy} file. */
    public static NpyArray readNpy(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return readArray(new BufferedInputStream(in), file.toString());
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read: " + AtomicFiles.describe(e), e);
        }
    }

    /**
     * Writes an uncompressed archive of {@code <key>.npy} entries atomically (a temp file beside {@code file},
     * renamed over it), as {@code np.savez(file, **arrays)} does.
     */
    public static void write(Path file, Map<String, NpyArray> arrays) {
        for (String key : arrays.keySet()) {
            if (key.isEmpty() || key.contains("/")) {
                throw new IllegalArgumentException("invalid key '" + key + "'");
            }
        }
        AtomicFiles.write(file, temp -> {
            try (ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(Files.newOutputStream(temp), 1 << 16))) {
                for (Map.Entry<String, NpyArray> e : arrays.entrySet()) {
                    NpyArray a = e.getValue();
                    byte[] header = header(a.dtype(), a.shape);
                    CRC32 crc = new CRC32();
                    crc.update(header);
                    crc.update(a.data());
                    ZipEntry entry = new ZipEntry(e.getKey() + SUFFIX);
                    entry.setMethod(ZipEntry.STORED);
                    entry.setSize(header.length + (long) a.data().length);
                    entry.setCompressedSize(entry.getSize());
                    entry.setCrc(crc.getValue());
                    zip.putNextEntry(entry);
                    zip.write(header);
                    zip.write(a.data());
                    zip.closeEntry();
                }
            }
        });
    }

    /** Writes a standalone {@code .npy} file atomically, byte-identical to {@code np.save}'s. */
    public static void writeNpy(Path file, NpyArray array) {
        AtomicFiles.write(file, temp -> {
            try (OutputStream out = Files.newOutputStream(temp)) {
                out.write(header(array.dtype(), array.shape));
                out.write(array.data());
            }
        });
    }

    /** A parsed {@code .npy} header. */
    private record Header(String dtype, long[] shape) {

        long dataBytes() {
            return elements(shape) * itemSize(dtype);
        }
    }

    private static ZipFile openZip(Path file) {
        try {
            return new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new TensorFileException(file + ": not a zip (.npz) archive (" + AtomicFiles.describe(e) + ")", e);
        } catch (NoSuchFileException e) {
            throw new TensorFileException(file + ": cannot read: no such file", e);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read: " + AtomicFiles.describe(e), e);
        }
    }

    private static void closeQuietly(ZipFile zip) {
        try {
            zip.close();
        } catch (IOException ignored) {
            // already failing with a more useful message
        }
    }

    private static List<String> keys(ZipFile zip) {
        List<String> keys = new ArrayList<>();
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            String name = en.nextElement().getName();
            if (name.endsWith(SUFFIX)) {
                keys.add(name.substring(0, name.length() - SUFFIX.length()));
            }
        }
        return keys;
    }

    private static ZipEntry entry(Path file, ZipFile zip, String key) {
        ZipEntry entry = zip.getEntry(key + SUFFIX);
        if (entry == null) {
            throw new TensorFileException(file + ": no entry '" + key + "' (entries: "
                    + keys(zip).stream().collect(Collectors.joining(", ")) + ")");
        }
        return entry;
    }

    private static NpyArray readEntry(Path file, ZipFile zip, String key) throws IOException {
        try (InputStream in = zip.getInputStream(entry(file, zip, key))) {
            return readArray(in, file + ": entry '" + key + "'");
        }
    }

    private static NpyArray readArray(InputStream in, String where) throws IOException {
        Header h = readHeader(in, where);
        long bytes = h.dataBytes();
        if (bytes > MAX_BYTES) {
            throw new TensorFileException(where + ": " + h.dtype + " " + Arrays.toString(h.shape) + " is " + bytes
                    + " bytes, too large to read at once (read it by rows with Npz.openArray)");
        }
        return new NpyArray(h.dtype, h.shape, readFully(in, (int) bytes, where, 0, bytes));
    }

    /** Reads {@code n} data bytes, the data read so far being {@code done} of {@code total}. */
    private static byte[] readFully(InputStream in, int n, String where, long done, long total) {
        byte[] out = new byte[n];
        int got;
        try {
            got = in.readNBytes(out, 0, n);
        } catch (EOFException e) {
            throw new TensorFileException(where + ": truncated: the data ends early (" + AtomicFiles.describe(e) + ")", e);
        } catch (IOException e) {
            throw new TensorFileException(where + ": cannot read: " + AtomicFiles.describe(e), e);
        }
        if (got < n) {
            throw new TensorFileException(where + ": truncated: expected " + total + " data bytes, found " + (done + got));
        }
        return out;
    }

    /** Parses the magic, version and header dict, leaving {@code in} at the first data byte. */
    private static Header readHeader(InputStream in, String where) throws IOException {
        byte[] prefix = new byte[8];
        int got = in.readNBytes(prefix, 0, 8);
        if (got < 8 || !Arrays.equals(Arrays.copyOf(prefix, 6), MAGIC)) {
            throw new TensorFileException(where + ": not a .npy array (no \\x93NUMPY magic)");
        }
        int major = prefix[6] & 0xff;
        int minor = prefix[7] & 0xff;
        if (!(minor == 0 && (major == 1 || major == 2))) {
            throw new TensorFileException(where + ": unsupported .npy format version " + major + "." + minor
                    + " (reads 1.0 and 2.0)");
        }
        byte[] lengthBytes = new byte[major == 1 ? 2 : 4];
        if (in.readNBytes(lengthBytes, 0, lengthBytes.length) < lengthBytes.length) {
            throw new TensorFileException(where + ": truncated: the header ends early");
        }
        long length = 0;
        for (int i = lengthBytes.length - 1; i >= 0; i--) {
            length = (length << 8) | (lengthBytes[i] & 0xff);
        }
        if (length > MAX_HEADER) {
            throw new TensorFileException(where + ": header of " + length + " bytes is too large");
        }
        byte[] text = new byte[(int) length];
        if (in.readNBytes(text, 0, text.length) < text.length) {
            throw new TensorFileException(where + ": truncated: the header ends early");
        }
        return parseHeader(new String(text, StandardCharsets.ISO_8859_1).strip(), where);
    }

    private static Header parseHeader(String dict, String where) {
        Matcher descr = DESCR.matcher(dict);
        Matcher fortran = FORTRAN.matcher(dict);
        Matcher shape = SHAPE.matcher(dict);
        if (!dict.startsWith("{") || !dict.endsWith("}") || !descr.find() || !fortran.find() || !shape.find()) {
            throw new TensorFileException(where + ": malformed .npy header " + oneLine(dict));
        }
        if (descr.group(2) == null) {
            throw new TensorFileException(where + ": unsupported dtype: structured arrays are not read");
        }
        String dtype = descr.group(2);
        if (!DTYPES.contains(dtype)) {
            throw new TensorFileException(where + ": unsupported dtype '" + dtype + "' (reads " + String.join(" ", DTYPES) + ")");
        }
        if (fortran.group(1).equals("True")) {
            throw new TensorFileException(where + ": fortran_order arrays are not read (save a C-order copy: np.ascontiguousarray)");
        }
        List<Long> dims = new ArrayList<>();
        for (String part : shape.group(1).split(",")) {
            String p = part.strip();
            if (p.endsWith("L")) {
                p = p.substring(0, p.length() - 1); // Python 2 longs
            }
            if (p.isEmpty()) {
                continue;
            }
            try {
                long v = Long.parseLong(p);
                if (v < 0) {
                    throw new NumberFormatException();
                }
                dims.add(v);
            } catch (NumberFormatException e) {
                throw new TensorFileException(where + ": malformed shape (" + shape.group(1) + ")");
            }
        }
        long[] dimsArray = dims.stream().mapToLong(Long::longValue).toArray();
        if (elements(dimsArray) < 0) {
            throw new TensorFileException(where + ": shape (" + shape.group(1) + ") is too large");
        }
        return new Header(dtype, dimsArray);
    }

    /**
     * The magic, version, length and dict exactly as numpy 1.24's {@code _write_array_header}: sorted keys, room
     * for the first axis to grow to 21 digits, spaces and a newline up to a multiple of 64 bytes; version 1.0
     * unless the dict needs a 4-byte length.
     */
    static byte[] header(String dtype, long[] shape) {
        String tuple = shape.length == 1 ? "(" + shape[0] + ",)"
                : Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", ", "(", ")"));
        StringBuilder dict = new StringBuilder("{'descr': '" + dtype + "', 'fortran_order': False, 'shape': " + tuple + ", }");
        if (shape.length > 0) {
            dict.append(" ".repeat(GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length()));
        }
        int textLength = dict.length() + 1; // with the final newline
        // numpy tries version 1.0 first: its 2-byte length counts the padded text after the 10-byte prefix
        int major = textLength + (ALIGN - (10 + textLength) % ALIGN) < 65536 ? 1 : 2;
        int prefix = major == 1 ? 10 : 12;
        int pad = ALIGN - (prefix + textLength) % ALIGN;
        dict.append(" ".repeat(pad)).append('\n');
        byte[] text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream out = new ByteArrayOutputStream(prefix + text.length);
        out.writeBytes(MAGIC);
        out.write(major);
        out.write(0);
        ByteBuffer length = ByteBuffer.allocate(major == 1 ? 2 : 4).order(ByteOrder.LITTLE_ENDIAN);
        if (major == 1) {
            length.putShort((short) text.length);
        } else {
            length.putInt(text.length);
        }
        out.writeBytes(length.array());
        out.writeBytes(text);
        return out.toByteArray();
    }

    static int itemSize(String dtype) {
        return Integer.parseInt(dtype.substring(2));
    }

    /** The product of a shape, or -1 when it overflows a long. */
    static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                return -1;
            }
            if (d != 0 && n > Long.MAX_VALUE / d) {
                return -1;
            }
            n *= d;
        }
        return n;
    }

    private static String oneLine(String s) {
        String t = s.replaceAll("\\s+", " ");
        return t.length() > 120 ? t.substring(0, 120) + "..." : t;
    }
}
