package maetok4j.tensor;

import maetok4j.tensor.TorchPickle.Dtype;
import maetok4j.tensor.TorchPickle.StorageRef;
import maetok4j.tensor.TorchPickle.TensorRef;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The state dict of a PyTorch checkpoint ({@code .pth}, {@code .pt}, Hugging Face {@code pytorch_model.bin}),
 * read without Python and without running anything from the file, and its conversion to safetensors.
 *
 * <p>{@code torch.save} (PyTorch 1.6 and later) writes a zip whose entries share one folder, named after the
 * file or {@code archive}: {@code data.pkl}, the pickled object, in which every tensor refers by key to a
 * storage; {@code data/<key>}, each storage's raw bytes; {@code version}; and, since PyTorch 2.1,
 * {@code byteorder} ("little" or "big"; older files are little-endian). The pickle is read by the restricted
 * {@link TorchPickle}, which refuses what {@code torch.load(weights_only=True)} refuses, unless the caller
 * allows further classes as torch's {@code add_safe_globals} does. The pre-1.6 format (a pickle stream, or a
 * tar before that) and TorchScript archives are recognised and refused with a hint.
 *
 * <p>Every problem is a {@link TensorFileException} with one line naming the file. Storages and tensors are
 * held in Java arrays, so each must be smaller than 2 GB.
 */
public final class TorchCheckpoint {

    /** The largest storage or tensor held in one Java byte array. */
    private static final long MAX_BYTES = Integer.MAX_VALUE - 8;
    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    /** What the pre-1.6 format starts with: the pickled magic number 0x1950a86a20f9469cfc6c (protocol 2). */
    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46,
            (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};
    /** A tar archive (PyTorch before 0.4) has "ustar" at byte 257. */
    private static final int TAR_MAGIC_OFFSET = 257;
    private static final byte[] TAR_MAGIC = {'u', 's', 't', 'a', 'r'};
    private static final String RESAVE = "load it with PyTorch 1.6 or later and save it again: "
            + "torch.save(torch.load(f, weights_only=True), 'new.pth')";

    private TorchCheckpoint() {}

    /**
     * One tensor of a state dict: its element type, shape and elements in C order as little-endian bytes (what
     * a safetensors file holds). A 0-d tensor has shape {@code []} and one element. The byte array is shared,
     * not copied (a tensor saved under two keys, e.g. tied weights, may share one); do not modify it.
     */
    public record TensorData(Dtype dtype, long[] shape, byte[] data) {

        public TensorData {
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
            if (Arrays.stream(shape).anyMatch(d -> d < 0)) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            long numel = Arrays.stream(shape).reduce(1, Math::multiplyExact);
            if (data.length != numel * dtype.size()) {
                throw new IllegalArgumentException(dtype + " " + Arrays.toString(shape) + " needs "
                        + numel * dtype.size() + " bytes, got " + data.length);
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Number of elements: 1 for a 0-d tensor, 0 if any dimension is 0. */
        public long numel() {
            return data.length / dtype.size();
        }

        /** The elements as a read-only little-endian buffer, e.g. {@code buffer().asFloatBuffer()} for F32. */
        public ByteBuffer buffer() {
            return ByteBuffer.wrap(data).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TensorData t && dtype == t.dtype && Arrays.equals(shape, t.shape)
                    && Arrays.equals(data, t.data);
        }

        @Override
        public int hashCode() {
            return 31 * dtype.hashCode() + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return dtype + " " + Arrays.toString(shape);
        }
    }

    /**
     * Reads the state dict of a checkpoint, in the order it was saved; only the storages of its tensors are read.
     *
     * <p>With a {@code key}, the file must hold a dict whose entry {@code key} is the state dict (a dict of str
     * to tensors), e.g. "model" for MAE-style training checkpoints or "ema" for their averaged weights. With
     * {@code key == null}, the state dict is the file's top-level dict if that holds only tensors (as Hugging
     * Face's {@code pytorch_model.bin} and {@code torch.save(model.state_dict())}), otherwise the one entry of
     * the top-level dict that holds only tensors; if several do (say "model" and "ema"), choosing is left to
     * the caller, as is stripping prefixes such as DataParallel's "module.".
     *
     * @throws TensorFileException if the file cannot be read, is not a zip checkpoint, would run code, or has no
     *     such state dict (the message lists the top-level keys)
     */
    public static Map<String, TensorData> stateDict(Path file, String key) {
        return stateDict(file, key, Set.of());
    }

    /**
     * As {@link #stateDict(Path, String)}, but the pickle may also hold instances of the given classes, read as
     * inert data (see {@link TorchPickle}), as {@code torch.serialization.add_safe_globals} allows them: MAE's
     * {@code misc.save_model} saves its {@code argparse.Namespace} of training arguments beside the weights.
     *
     * @param allowedClasses qualified class names such as {@code argparse.Namespace}
     * @throws IllegalArgumentException before the file is opened, if a name is not {@code module.Class} or lies in
     *     a module that runs code, such as {@code os.system}
     */
    public static Map<String, TensorData> stateDict(Path file, String key, Set<String> allowedClasses) {
        Set<String> allowed = TorchPickle.checkAllowedClasses(allowedClasses);
        String source = file.toString();
        checkFormat(file);
        try (ZipFile zip = new ZipFile(file.toFile())) {
            String prefix = recordPrefix(source, zip);
            ByteOrder order = byteOrder(source, zip, prefix);
            Object root = TorchPickle.load(read(source, zip, prefix + "data.pkl"), source, allowed);
            Map<String, TensorRef> refs = select(source, root, key);
            return materialise(source, zip, prefix, order, refs);
        } catch (ZipException e) {
            throw new TensorFileException(source + ": damaged or truncated zip archive (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new TensorFileException(source + ": cannot read: " + AtomicFiles.describe(e), e);
        }
    }

    /**
     * Writes tensors to a safetensors file in the given order, atomically (see {@link AtomicFiles}), with the
     * metadata {@code {"format": "pt"}} that Hugging Face's converter writes. {@link Safetensors} reads it.
     *
     * @throws IllegalArgumentException for a tensor named __metadata__, which would corrupt the header
     * @throws TensorFileException "&lt;target&gt;: cannot write: &lt;reason&gt;" on I/O errors
     */
    public static void writeSafetensors(Map<String, TensorData> tensors, Path target) {
        Map<String, SafetensorsWriter.RawTensor> raw = new LinkedHashMap<>();
        tensors.forEach((name, t) -> raw.put(name,
                new SafetensorsWriter.RawTensor(t.dtype().name(), t.shape(), t.data())));
        SafetensorsWriter.writeRaw(target, raw, Map.of("format", "pt"));
    }

    /** Refuses, with advice, the formats that are not a zip: the pre-1.6 pickle stream and the older tar. */
    private static void checkFormat(Path file) {
        byte[] start;
        try (InputStream in = Files.newInputStream(file)) {
            start = in.readNBytes(TAR_MAGIC_OFFSET + TAR_MAGIC.length);
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read: " + AtomicFiles.describe(e), e);
        }
        if (startsWith(start, 0, ZIP_MAGIC)) {
            return;
        }
        if (startsWith(start, 0, LEGACY_MAGIC) || startsWith(start, TAR_MAGIC_OFFSET, TAR_MAGIC)) {
            throw new TensorFileException(file + ": the legacy PyTorch format (before 1.6) is not supported; "
                    + RESAVE);
        }
        throw new TensorFileException(file + ": not a PyTorch checkpoint (no zip archive; "
                + (start.length > 0 && (start[0] & 0xff) == 0x80 ? "a bare pickle" : "unknown format") + ")");
    }

    private static boolean startsWith(byte[] bytes, int at, byte[] prefix) {
        return bytes.length >= at + prefix.length
                && Arrays.equals(bytes, at, at + prefix.length, prefix, 0, prefix.length);
    }

    /** The folder all records live in ("archive/", or the saved file's name), found from its data.pkl. */
    private static String recordPrefix(String source, ZipFile zip) {
        List<String> prefixes = zip.stream().map(ZipEntry::getName)
                .filter(n -> n.endsWith("/data.pkl") && n.indexOf('/') == n.length() - "/data.pkl".length())
                .map(n -> n.substring(0, n.length() - "data.pkl".length()))
                .toList();
        if (prefixes.size() != 1) {
            throw new TensorFileException(source + ": not a PyTorch checkpoint (a zip with " + prefixes.size()
                    + " <folder>/data.pkl entries instead of one)");
        }
        String prefix = prefixes.get(0);
        if (zip.getEntry(prefix + "constants.pkl") != null) {
            throw new TensorFileException(source + ": a TorchScript module (torch.jit.save), not a checkpoint of "
                    + "weights; save its state_dict() with torch.save instead");
        }
        return prefix;
    }

    private static ByteOrder byteOrder(String source, ZipFile zip, String prefix) throws IOException {
        if (zip.getEntry(prefix + "byteorder") == null) {
            return ByteOrder.LITTLE_ENDIAN;
        }
        String order = new String(read(source, zip, prefix + "byteorder"), StandardCharsets.US_ASCII).strip();
        return switch (order) {
            case "little" -> ByteOrder.LITTLE_ENDIAN;
            case "big" -> ByteOrder.BIG_ENDIAN;
            default -> throw new TensorFileException(source + ": unknown byte order '" + order + "'");
        };
    }

    /**
     * The state dict {@link #stateDict} describes, as found in the unpickled object; package-private for tests.
     */
    static Map<String, TensorRef> select(String source, Object root, String key) {
        if (key != null) {
            if (!(root instanceof Map<?, ?> top) || !top.containsKey(key)) {
                throw new TensorFileException(source + ": no entry '" + key + "' (" + describeTop(root) + ")");
            }
            return stateDictOrThrow(source + ": entry '" + key + "'", top.get(key));
        }
        if (isStateDict(root)) {
            return stateDictOrThrow(source, root);
        }
        List<String> found = new ArrayList<>();
        if (root instanceof Map<?, ?> top) {
            top.forEach((k, v) -> {
                if (k instanceof String name && isStateDict(v)) {
                    found.add(name);
                }
            });
        }
        if (found.size() != 1) {
            throw new TensorFileException(source + ": " + (found.isEmpty() ? "no state dict (a dict of tensors) found"
                    : "several state dicts " + found + "; choose one by key") + " (" + describeTop(root) + ")");
        }
        return stateDictOrThrow(source + ": entry '" + found.get(0) + "'", ((Map<?, ?>) root).get(found.get(0)));
    }

    private static boolean isStateDict(Object o) {
        return o instanceof Map<?, ?> m && !m.isEmpty() && m.entrySet().stream()
                .allMatch(e -> e.getKey() instanceof String && e.getValue() instanceof TensorRef);
    }

    /** The dict as a state dict, or a message naming its first entry that is not a str key with a tensor. */
    private static Map<String, TensorRef> stateDictOrThrow(String where, Object o) {
        if (!(o instanceof Map<?, ?> dict) || dict.isEmpty()) {
            throw new TensorFileException(where + (o instanceof Map ? " is an empty dict" : " has type "
                    + TorchPickle.typeName(o)) + ", not a state dict of tensors");
        }
        Map<String, TensorRef> out = new LinkedHashMap<>();
        dict.forEach((k, v) -> {
            if (!(k instanceof String name) || !(v instanceof TensorRef t)) {
                throw new TensorFileException(where + " is not a state dict: its entry " + describeKey(k) + " has type "
                        + TorchPickle.typeName(v) + ", not a tensor");
            }
            out.put(name, t);
        });
        return out;
    }

    private static String describeTop(Object root) {
        return root instanceof Map<?, ?> m
                ? "top-level keys: " + m.keySet().stream().map(TorchCheckpoint::describeKey).toList()
                : "the file holds a " + TorchPickle.typeName(root);
    }

    private static String describeKey(Object k) {
        return k instanceof String s ? "'" + s + "'" : TorchPickle.typeName(k) + " " + k;
    }

    /** Reads each storage the tensors use once, and copies each tensor out of it in C order. */
    private static Map<String, TensorData> materialise(String source, ZipFile zip, String prefix, ByteOrder order,
            Map<String, TensorRef> refs) throws IOException {
        Map<String, StorageRef> seen = new HashMap<>();
        Map<String, byte[]> storages = new HashMap<>();
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
            TensorRef t = e.getValue();
            StorageRef s = t.storage();
            StorageRef first = seen.putIfAbsent(s.key(), s);
            if (first != null && !first.equals(s)) {
                throw new TensorFileException(source + ": storage data/" + s.key() + " is described both as "
                        + first.dtype().storageClass() + " of " + first.numel() + " and as "
                        + s.dtype().storageClass() + " of " + s.numel());
            }
            byte[] storage = storages.get(s.key());
            if (storage == null) {
                storage = readStorage(source, zip, prefix, s, order);
                storages.put(s.key(), storage);
            }
            if (Math.multiplyExact(t.numel(), s.dtype().size()) > MAX_BYTES) {
                throw new TensorFileException(source + ": tensor '" + e.getKey() + "' " + t
                        + " is larger than the 2 GB this reader holds in one array");
            }
            out.put(e.getKey(), new TensorData(s.dtype(), t.shape(), contiguous(storage, t)));
        }
        return Collections.unmodifiableMap(out);
    }

    /** A storage's bytes, little-endian whatever the file's byte order. */
    private static byte[] readStorage(String source, ZipFile zip, String prefix, StorageRef s, ByteOrder order)
            throws IOException {
        String name = prefix + "data/" + s.key();
        ZipEntry entry = zip.getEntry(name);
        if (entry == null) {
            throw new TensorFileException(source + ": storage " + name + " is missing (truncated or damaged archive)");
        }
        long need = s.bytes();
        if (entry.getSize() != need) {
            throw new TensorFileException(source + ": storage " + name + " has " + entry.getSize() + " bytes, its "
                    + s.numel() + " " + s.dtype() + " elements need " + need);
        }
        byte[] data = read(source, zip, name);
        return order == ByteOrder.BIG_ENDIAN ? swapBytes(data, s.dtype().size()) : data;
    }

    /** A whole entry, whose size the zip's directory gives; a shorter one is an error, not a short read. */
    private static byte[] read(String source, ZipFile zip, String name) throws IOException {
        ZipEntry entry = zip.getEntry(name);
        if (entry == null) {
            throw new TensorFileException(source + ": " + name + " is missing from the archive");
        }
        if (entry.getSize() < 0 || entry.getSize() > MAX_BYTES) {
            throw new TensorFileException(source + ": " + name + " has " + entry.getSize()
                    + " bytes, more than the 2 GB this reader holds in one array");
        }
        try (InputStream in = zip.getInputStream(entry)) {
            byte[] data = in.readNBytes((int) entry.getSize());
            if (data.length != entry.getSize() || in.read() != -1) {
                throw new TensorFileException(source + ": " + name + " does not have the " + entry.getSize()
                        + " bytes the zip directory gives (damaged archive)");
            }
            return data;
        }
    }

    /** Reverses the bytes of each {@code size}-byte element, in place. */
    private static byte[] swapBytes(byte[] data, int size) {
        for (int i = 0; i < data.length; i += size) {
            for (int a = i, b = i + size - 1; a < b; a++, b--) {
                byte x = data[a];
                data[a] = data[b];
                data[b] = x;
            }
        }
        return data;
    }

    /**
     * A tensor's elements in C order: the storage itself if the tensor is all of it, one copied run if it is
     * contiguous, otherwise gathered row by row (transposes, strided slices, stride-0 expands). Package-private
     * for tests.
     */
    static byte[] contiguous(byte[] storage, TensorRef t) {
        int size = t.storage().dtype().size();
        int bytes = Math.toIntExact(t.numel() * size);
        if (bytes == 0) {
            return new byte[0]; // its offset need not lie inside the storage
        }
        int start = Math.toIntExact(t.offset() * size);
        if (t.isContiguous()) {
            return start == 0 && bytes == storage.length ? storage : Arrays.copyOfRange(storage, start, start + bytes);
        }
        long[] shape = t.shape();
        long[] stride = t.stride();
        int last = shape.length - 1;
        int rowLength = (int) shape[last];
        long[] index = new long[last];
        byte[] out = new byte[bytes];
        for (int written = 0; written < bytes; ) {
            long element = t.offset();
            for (int d = 0; d < last; d++) {
                element += index[d] * stride[d];
            }
            for (int i = 0; i < rowLength; i++, written += size) {
                System.arraycopy(storage, (int) ((element + i * stride[last]) * size), out, written, size);
            }
            for (int d = last - 1; d >= 0 && ++index[d] == shape[d]; d--) {
                index[d] = 0;
            }
        }
        return out;
    }
}
