package maetok4j.tensor;

import maetok4j.tensor.Npz.ArrayReader;
import maetok4j.tensor.Npz.NpyArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NpzTest {

    @TempDir
    Path dir;

    /** The arrays make_distribution_metrics.py saves to npz_numpy.npz, built in Java. */
    private static Map<String, NpyArray> formats() {
        Map<String, NpyArray> m = new LinkedHashMap<>();
        m.put("f4", NpyArray.of(new float[] {1.5f, -2.25f, 3f, 0f, 1e-30f, -7f}, 2, 3));
        m.put("f8", NpyArray.of(new double[] {Math.PI, -Math.E, 1e300, -0.0}, 4));
        byte[] u1 = new byte[12];
        for (int i = 0; i < 12; i++) {
            u1[i] = (byte) (i * 21);
        }
        m.put("u1", NpyArray.ofUnsignedBytes(u1, 2, 2, 3));
        m.put("i8", NpyArray.of(new long[] {-1234567890123L}));
        m.put("i4", NpyArray.of(new int[] {7, -8, Integer.MAX_VALUE}, 3, 1));
        m.put("empty", NpyArray.of(new double[0], 0, 3));
        return m;
    }

    private static void assertSameArrays(Map<String, NpyArray> actual, Map<String, NpyArray> expected) {
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        for (String key : expected.keySet()) {
            NpyArray a = actual.get(key);
            NpyArray e = expected.get(key);
            assertThat(a.dtype()).as(key).isEqualTo(e.dtype());
            assertThat(a.shape()).as(key).containsExactly(e.shape());
            assertThat(a.data()).as(key).containsExactly(e.data());
        }
    }

    @Test
    void readsWhatNumpyWrites() {
        for (String name : List.of("npz_numpy.npz", "npz_numpy_compressed.npz")) {
            Map<String, NpyArray> read = Npz.read(resource("metrics/" + name));
            assertSameArrays(read, formats());
            assertThat(read.get("u1").toDoubleArray()).containsExactly(0, 21, 42, 63, 84, 105, 126, 147, 168, 189, 210, 231);
            assertThat(read.get("i8").shape()).isEmpty();
            assertThat(read.get("i8").toDoubleArray()).containsExactly(-1234567890123.0);
            assertThat(read.get("i4").toFloatArray()).containsExactly(7f, -8f, 2147483647f);
            assertThat(read.get("f8").toFloatArray()[0]).isEqualTo((float) Math.PI);
            assertThat(read.get("empty").size()).isZero();
        }
        NpyArray v1 = Npz.readNpy(resource("metrics/npy_v1.npy"));
        NpyArray v2 = Npz.readNpy(resource("metrics/npy_v2.npy"));
        assertThat(v1.toDoubleArray()).containsExactly(Math.PI, -Math.E, 1e300, -0.0);
        assertThat(v2.toDoubleArray()).containsExactly(v1.toDoubleArray());
    }

    @Test
    void writesTheBytesNumpyWrites() throws IOException {
        Path file = dir.resolve("java.npz");
        Npz.write(file, formats());
        try (ZipFile ours = new ZipFile(file.toFile());
                ZipFile numpys = new ZipFile(resource("metrics/npz_numpy.npz").toFile())) {
            for (String key : formats().keySet()) {
                ZipEntry entry = ours.getEntry(key + ".npy");
                assertThat(entry.getMethod()).isEqualTo(ZipEntry.STORED);
                assertThat(ours.getInputStream(entry).readAllBytes()).as(key)
                        .containsExactly(numpys.getInputStream(numpys.getEntry(key + ".npy")).readAllBytes());
            }
        }
        Path npy = dir.resolve("java.npy");
        Npz.writeNpy(npy, formats().get("f8"));
        assertThat(Files.readAllBytes(npy)).containsExactly(Files.readAllBytes(resource("metrics/npy_v1.npy")));
    }

    @Test
    void roundTripsInJava() throws IOException {
        Path file = dir.resolve("round.npz");
        Npz.write(file, formats());
        assertSameArrays(Npz.read(file), formats());
        assertThat(Npz.keys(file)).containsExactly("f4", "f8", "u1", "i8", "i4", "empty");
        Map<String, NpyArray> two = Npz.read(file, List.of("i4", "f4"));
        assertThat(two.keySet()).containsExactly("i4", "f4");
        // rewriting replaces the file
        Npz.write(file, Map.of("only", NpyArray.of(new double[] {1}, 1)));
        assertThat(Npz.keys(file)).containsExactly("only");
        try (var listing = Files.list(dir)) {
            assertThat(listing).containsExactly(file); // no temp file left behind
        }
    }

    @Test
    void streamsRowsOfALargeArray() {
        byte[] images = new byte[10 * 4 * 4 * 3];
        for (int i = 0; i < images.length; i++) {
            images[i] = (byte) (i * 7);
        }
        Path file = dir.resolve("batch.npz");
        Npz.write(file, Map.of("arr_0", NpyArray.ofUnsignedBytes(images, 10, 4, 4, 3), "mu", NpyArray.of(new double[2], 2)));
        try (ArrayReader reader = Npz.openArray(file, "arr_0")) {
            assertThat(reader.dtype()).isEqualTo("|u1");
            assertThat(reader.shape()).containsExactly(10, 4, 4, 3);
            int row = 0;
            for (int expected : new int[] {3, 3, 3, 1}) {
                NpyArray chunk = reader.readRows(3);
                assertThat(chunk.shape()).containsExactly(expected, 4, 4, 3);
                assertThat(chunk.data()).containsExactly(Arrays.copyOfRange(images, row * 48, (row + expected) * 48));
                row += expected;
            }
            assertThat(reader.remainingRows()).isZero();
            assertThat(reader.readRows(3).shape()).containsExactly(0, 4, 4, 3);
        }
        // a deflated entry streams the same way
        try (ArrayReader reader = Npz.openArray(resource("metrics/npz_numpy_compressed.npz"), "u1")) {
            assertThat(reader.readRows(1).toDoubleArray()).containsExactly(0, 21, 42, 63, 84, 105);
            assertThat(reader.readRows(5).toDoubleArray()).containsExactly(126, 147, 168, 189, 210, 231);
        }
    }

    /** A v1.0 .npy with the given header dict and data. */
    private static byte[] npy(String dict, byte[] data) {
        return npy(1, dict, data);
    }

    private static byte[] npy(int major, String dict, byte[] data) {
        byte[] text = (dict + "\n").getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + text.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0}).putShort((short) text.length).put(text).put(data);
        return b.array();
    }

    private Path zipWith(String name, byte[] content) throws IOException {
        Path file = dir.resolve(name.replace('/', '_') + ".npz");
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            zip.putNextEntry(new ZipEntry(name + ".npy"));
            zip.write(content);
            zip.closeEntry();
        }
        return file;
    }

    private static void assertFails(Runnable read, Path file, String problem) {
        assertThatThrownBy(read::run)
                .isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining(problem)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void reportsBadFilesInOneLine() throws IOException {
        Path text = dir.resolve("text.npz");
        Files.writeString(text, "not a zip at all");
        assertFails(() -> Npz.read(text), text, "not a zip (.npz) archive");
        Path absent = dir.resolve("absent.npz");
        assertFails(() -> Npz.read(absent), absent, "no such file");

        Path numpy = resource("metrics/npz_numpy.npz");
        assertFails(() -> Npz.read(numpy, List.of("mu")), numpy, "no entry 'mu' (entries: f4, f8, u1, i8, i4, empty)");
        assertFails(() -> Npz.openArray(numpy, "sigma"), numpy, "no entry 'sigma'");
        assertFails(() -> Npz.openArray(numpy, "i8"), numpy, "entry 'i8': a 0-d array has no rows");

        Path fortran = resource("metrics/npy_fortran.npy");
        assertFails(() -> Npz.readNpy(fortran), fortran, "fortran_order arrays are not read");
        Path bigEndian = resource("metrics/npy_bigendian.npy");
        assertFails(() -> Npz.readNpy(bigEndian), bigEndian, "unsupported dtype '>f4'");
        Path bool = resource("metrics/npy_bool.npy");
        assertFails(() -> Npz.readNpy(bool), bool, "unsupported dtype '|b1'");

        Path fortranEntry = zipWith("x", Files.readAllBytes(fortran));
        assertFails(() -> Npz.read(fortranEntry), fortranEntry, "entry 'x': fortran_order");
        Path truncated = zipWith("x", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }", new byte[40]));
        assertFails(() -> Npz.read(truncated), truncated, "entry 'x': truncated: expected 80 data bytes, found 40");
        assertFails(() -> Npz.openArray(truncated, "x").readRows(6), truncated, "truncated: expected 80 data bytes, found 40");
        Path magic = zipWith("x", "PK not an array".getBytes(StandardCharsets.US_ASCII));
        assertFails(() -> Npz.read(magic), magic, "entry 'x': not a .npy array");
        Path version = zipWith("x", npy(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }", new byte[0]));
        assertFails(() -> Npz.read(version), version, "unsupported .npy format version 3.0");
        Path malformed = zipWith("x", npy("{'descr': '<f8', 'shape': (2,), }", new byte[16]));
        assertFails(() -> Npz.read(malformed), malformed, "malformed .npy header");
        Path structured = zipWith("x", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4]));
        assertFails(() -> Npz.read(structured), structured, "structured arrays are not read");
        Path huge = zipWith("x", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (50000, 256, 256, 3), }", new byte[0]));
        assertFails(() -> Npz.read(huge), huge, "too large to read at once (read it by rows with Npz.openArray)");
        try (ArrayReader rows = Npz.openArray(huge, "x")) {
            assertThat(rows.rows()).isEqualTo(50000);
            assertFails(() -> rows.readRows(2), huge, "truncated");
        }
    }

    @Test
    void validatesArraysAndKeysBeforeWriting() {
        assertThatThrownBy(() -> NpyArray.of(new double[5], 2, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 48 bytes, got 40");
        assertThatThrownBy(() -> new NpyArray("<f2", new long[] {1}, new byte[2]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dtype must be one of");
        Path file = dir.resolve("bad.npz");
        assertThatThrownBy(() -> Npz.write(file, Map.of("a/b", NpyArray.of(new double[1], 1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid key");
        assertThat(file).doesNotExist();
        Path underAFile = dir.resolve("bad.npz").resolve("x.npz");
        Npz.write(file, Map.of("a", NpyArray.of(new double[1], 1)));
        assertFails(() -> Npz.write(underAFile, Map.of("a", NpyArray.of(new double[1], 1))), underAFile, "cannot write");
    }
}
