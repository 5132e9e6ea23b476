package maetok4j.tensor;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    /** A file with the given header JSON and {@code dataBytes} zero bytes of data. */
    Path raw(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = tmp.resolve("t" + System.nanoTime() + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    @Test
    void roundTripIsBitIdenticalForEveryDtype() {
        Path f = tmp.resolve("a.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("f32", m.randomNormal(new Shape(3, 4, 5)));
            t.put("f64", m.randomNormal(new Shape(2, 3)).toType(DataType.FLOAT64, false));
            t.put("labels", m.create(new long[] {3, 1, 4, 1, 5}));
            t.put("i32", m.create(new int[] {-7, 8}));
            t.put("u8", m.create(new byte[] {0, (byte) 255}).toType(DataType.UINT8, false));
            t.put("scalar", m.create(2.5f));
            t.put("empty", m.zeros(new Shape(0, 4)));
            Safetensors.write(f, t, Map.of("format", "pt"));
            try (Safetensors s = Safetensors.open(f)) {
                assertThat(s.tensors().keySet()).containsExactlyElementsOf(t.keySet());
                assertThat(s.metadata()).containsEntry("format", "pt");
                for (var e : t.entrySet()) {
                    NDArray back = s.read(e.getKey(), m);
                    assertThat(back.getShape()).as(e.getKey()).isEqualTo(e.getValue().getShape());
                    assertThat(back.getDataType()).as(e.getKey()).isEqualTo(e.getValue().getDataType());
                    assertThat(back.toByteArray()).as(e.getKey()).isEqualTo(e.getValue().toByteArray());
                }
                assertThat(s.readRows("f32", 1, 2, m).toFloatArray())
                        .containsExactly(t.get("f32").get("1:3").toFloatArray());
            }
        }
    }

    @Test
    void readsAFileWrittenByPythonsSafetensors() throws IOException {
        Path f = resource("safetensors/python-io.safetensors");
        byte[] bytes = Files.readAllBytes(f);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong(0);
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(f)) {
            assertThat(s.tensors().keySet()).contains("images", "latents", "reconstructions", "mask", "latents_masked");
            assertThat(s.info("images").shape()).containsExactly(3, 3, 32, 32);
            TensorInfo lat = s.info("latents");
            float[] values = s.read("latents", m).toFloatArray();
            // the same values straight from the bytes
            for (int i : new int[] {0, 17, values.length - 1}) {
                assertThat(values[i]).isEqualTo(b.getFloat((int) (8 + n + lat.begin() + 4L * i)));
            }
        }
    }

    @Test
    void halfPrecisionTensorsAreReadAsFloat32() throws IOException {
        float[] exact = {0f, 1f, -2.5f, 0.125f, 65504f, -0.0009765625f};
        try (NDManager m = NDManager.newBaseManager()) {
            Path f = tmp.resolve("h.safetensors");
            Safetensors.write(f, Map.of("h", m.create(exact).toType(DataType.FLOAT16, false)), Map.of());
            try (Safetensors s = Safetensors.open(f)) {
                assertThat(s.info("h").dtype()).isEqualTo("F16");
                NDArray back = s.read("h", m);
                assertThat(back.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(back.toFloatArray()).containsExactly(exact);
            }
            // bfloat16 by hand: the upper 16 bits of the float32 pattern
            float[] bf = {1f, -2f, 0.5f, 3.140625f};
            ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : bf) {
                data.putShort((short) (Float.floatToIntBits(v) >>> 16));
            }
            Path g = raw("{\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 0);
            Files.write(g, data.array(), java.nio.file.StandardOpenOption.APPEND);
            try (Safetensors s = Safetensors.open(g)) {
                NDArray back = s.read("b", m);
                assertThat(back.getShape()).isEqualTo(new Shape(2, 2));
                assertThat(back.toFloatArray()).containsExactly(bf);
            }
        }
    }

    @Test
    void everyMalformedHeaderIsRejectedWithItsReason() throws IOException {
        Path tiny = tmp.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertBad(tiny, "shorter than the 8-byte header length");
        Path lying = tmp.resolve("lying.safetensors");
        Files.write(lying, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertBad(lying, "header length 1099511627776 is impossible");
        assertBad(raw("{not json", 0), "header is not valid JSON");
        assertBad(raw("[1,2]", 0), "header is not a JSON object");
        assertBad(raw("{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "unknown or missing dtype");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "invalid dimension -1");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "needs 8 bytes but offsets give 4");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "offsets past end of file");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "not an increasing pair");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8), "tensors 'x' and 'y' overlap");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[100000,100000,100000,100000],\"data_offsets\":[0,4]}}", 4), "is too large");
        assertBad(raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4), "unexpected field 'extra'");
        assertBad(raw("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__ value 'k' is not a string");

        // a real file cut short
        Path cut = tmp.resolve("cut.safetensors");
        byte[] full = Files.readAllBytes(resource("safetensors/python-io.safetensors"));
        Files.write(cut, Arrays.copyOf(full, full.length - 100));
        assertBad(cut, "offsets past end of file");
    }

    static void assertBad(Path f, String reason) {
        assertThatThrownBy(() -> Safetensors.open(f).close()).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(f.toString()).hasMessageContaining(reason);
    }

    @Test
    void absentTensorIsNamedWithTheAlternatives() {
        try (Safetensors s = Safetensors.open(resource("safetensors/python-io.safetensors"))) {
            assertThatThrownBy(() -> s.info("nope")).hasMessageContaining("no tensor 'nope' (has: images, latents");
        }
    }

    @Test
    void failedWritesLeaveTheTargetUntouchedAndNoTempFiles() throws IOException {
        Path target = tmp.resolve("keep.txt");
        Files.writeString(target, "original");
        assertThatThrownBy(() -> AtomicFiles.write(target, p -> {
            Files.writeString(p, "partial");
            throw new IOException("disk full");
        })).isInstanceOf(TensorFileException.class).hasMessageContaining(target + ": cannot write").hasMessageContaining("disk full");
        assertThat(Files.readString(target)).isEqualTo("original");
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files).containsExactly(target);
        }
        Path blocker = tmp.resolve("file");
        Files.writeString(blocker, "x");
        assertThatThrownBy(() -> AtomicFiles.writeString(blocker.resolve("sub/out.json"), "{}"))
                .isInstanceOf(TensorFileException.class).hasMessageContaining("cannot write");

        try (NDManager m = NDManager.newBaseManager();
                SafetensorsWriter w = SafetensorsWriter.create(tmp.resolve("never.safetensors"),
                        Map.of("x", new SafetensorsWriter.Spec(DataType.FLOAT32, 2, 2)), Map.of())) {
            w.write("x", 0, m.ones(new Shape(1, 2)));
            assertThatThrownBy(() -> w.write("x", 1, m.ones(new Shape(2, 2)))).hasMessageContaining("cannot put");
        }
        assertThat(tmp.resolve("never.safetensors")).doesNotExist();
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files.filter(p -> p.getFileName().toString().endsWith(".tmp"))).isEmpty();
        }
    }

    @Test
    void readingReleasesNativeMemory() {
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(resource("safetensors/python-io.safetensors"))) {
            int before = ((BaseNDManager) m).getManagedArrays().size();
            for (int i = 0; i < 50; i++) {
                try (NDManager step = m.newSubManager()) {
                    s.read("images", step);
                    s.readAs("mask", step, DataType.FLOAT64);
                }
            }
            assertThat(((BaseNDManager) m).getManagedArrays()).hasSize(before);
        }
    }
}
