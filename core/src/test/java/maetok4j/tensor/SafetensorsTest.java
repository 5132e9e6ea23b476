package maetok4j.tensor;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static maetok4j.TestFiles.resource;
import static maetok4j.tensor.SafetensorsValidationTest.fileBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsTest {

    static {
        Engines.configure();
    }

    static final Path PYTHON_FILE = resource("safetensors/python-io.safetensors");

    @TempDir
    Path tmp;

    @Test
    void roundTripIsBitIdentical() {
        Path f = tmp.resolve("a.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("f32", m.randomNormal(new Shape(3, 4, 5)));
            t.put("f64", m.randomNormal(new Shape(2, 3)).toType(DataType.FLOAT64, false));
            t.put("labels", m.create(new long[] {3, 1, 4, 1, 5, Long.MIN_VALUE, Long.MAX_VALUE}));
            t.put("i32", m.create(new int[] {-7, 8, Integer.MIN_VALUE}));
            t.put("i8", m.create(new byte[] {-128, 0, 127}));
            t.put("u8", m.create(new byte[] {0, (byte) 200, (byte) 255}).toType(DataType.UINT8, false));
            t.put("bool", m.create(new boolean[] {true, false, true}));
            t.put("scalar", m.create(2.5f));
            t.put("empty", m.zeros(new Shape(0, 4)));
            t.put("empty-i64", m.zeros(new Shape(2, 0), DataType.INT64));
            Safetensors.write(f, t, Map.of("format", "pt"));
            try (Safetensors s = Safetensors.open(f)) {
                assertThat(s.tensors().keySet()).containsExactlyElementsOf(t.keySet());
                assertThat(s.metadata()).containsExactly(Map.entry("format", "pt"));
                assertThat(s.info("scalar").shape()).isEmpty();
                assertThat(s.info("labels").dtype()).isEqualTo("I64");
                for (var e : t.entrySet()) {
                    NDArray back = s.read(e.getKey(), m);
                    assertThat(back.getShape()).as(e.getKey()).isEqualTo(e.getValue().getShape());
                    assertThat(back.getDataType()).as(e.getKey()).isEqualTo(e.getValue().getDataType());
                    assertThat(back.toByteArray()).as(e.getKey()).isEqualTo(e.getValue().toByteArray());
                }
            }
        }
    }

    @Test
    void float16RoundTripIsExactThroughFloat32() {
        Path f = tmp.resolve("h.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray h = m.randomNormal(new Shape(4, 5)).toType(DataType.FLOAT16, false);
            Safetensors.write(f, Map.of("h", h), Map.of());
            try (Safetensors s = Safetensors.open(f)) {
                assertThat(s.info("h").dtype()).isEqualTo("F16");
                NDArray back = s.read("h", m);
                assertThat(back.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(back.toType(DataType.FLOAT16, false).toByteArray()).isEqualTo(h.toByteArray());
            }
        }
    }

    @Test
    void nonContiguousArraysAreWrittenInCOrder() {
        Path f = tmp.resolve("t.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray transposed = m.arange(12f).reshape(3, 4).transpose();
            Safetensors.write(f, Map.of("t", transposed), Map.of());
            try (Safetensors s = Safetensors.open(f)) {
                NDArray back = s.read("t", m);
                assertThat(back.getShape()).isEqualTo(new Shape(4, 3));
                assertThat(back.toFloatArray()).containsExactly(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11);
            }
        }
    }

    @Test
    void readsAFileWrittenByPythonsSafetensors() throws IOException {
        // Layout from the file's header, checked by hand; values decoded here straight from the bytes.
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(PYTHON_FILE)).order(ByteOrder.LITTLE_ENDIAN);
        long dataStart = 8 + raw.getLong(0);
        assertThat(dataStart).isEqualTo(384);
        record Expected(String name, long[] shape, int begin, int end) {}
        List<Expected> expected = List.of(
                new Expected("images", new long[] {3, 3, 32, 32}, 0, 36864),
                new Expected("latents", new long[] {3, 8, 8}, 36864, 37632),
                new Expected("reconstructions", new long[] {3, 3, 32, 32}, 37632, 74496),
                new Expected("mask", new long[] {3, 16}, 74496, 74688),
                new Expected("latents_masked", new long[] {3, 8, 8}, 74688, 75456));
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(PYTHON_FILE)) {
            assertThat(s.tensors().keySet()).containsExactly("images", "latents", "reconstructions", "mask", "latents_masked");
            assertThat(s.metadata()).isEmpty();
            for (Expected e : expected) {
                TensorInfo info = s.info(e.name());
                assertThat(info).isEqualTo(new TensorInfo(e.name(), "F32", e.shape(), e.begin(), e.end()));
                NDArray a = s.read(e.name(), m);
                assertThat(a.getShape().getShape()).containsExactly(e.shape());
                float[] values = a.toFloatArray();
                float[] fromBytes = new float[(e.end() - e.begin()) / 4];
                raw.slice((int) dataStart + e.begin(), e.end() - e.begin()).order(ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer().get(fromBytes);
                assertThat(values).as(e.name()).containsExactly(fromBytes);
            }
            for (float v : s.read("images", m).toFloatArray()) {
                assertThat(v).isBetween(-1f, 1f);
            }
            for (float v : s.read("mask", m).toFloatArray()) {
                assertThat(v).isIn(0f, 1f);
            }
        }
    }

    @Test
    void bfloat16IsWidenedToFloat32() throws IOException {
        // Exactly representable: sign, zero, powers of two, 8 mantissa bits, the largest and smallest normal.
        float[] values = {1f, -2f, 0.5f, 3.140625f, -0f, 0f, 3.3895314e38f, 1.1754944e-38f, Float.NEGATIVE_INFINITY};
        ByteBuffer bits = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            assertThat(Float.floatToIntBits(v) & 0xffff).isZero();
            bits.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        Path f = tmp.resolve("bf.safetensors");
        // The engine cannot hold BFLOAT16 arrays, so the writer is given one that only reports its type and bytes.
        Safetensors.write(f, Map.of("b", fakeArray(DataType.BFLOAT16, new Shape(3, 3), bits.flip())), Map.of());
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(f)) {
            assertThat(s.info("b").dtype()).isEqualTo("BF16");
            NDArray back = s.read("b", m);
            assertThat(back.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(back.getShape()).isEqualTo(new Shape(3, 3));
            assertThat(back.toFloatArray()).containsExactly(values);
        }

        // and byte by byte: 1.0 is 0x3f80, -2.5 is 0xc020, 65536 is 0x4780 (little-endian, low byte first)
        byte[] data = {(byte) 0x80, 0x3f, 0x20, (byte) 0xc0, (byte) 0x80, 0x47};
        Path g = tmp.resolve("bf-bytes.safetensors");
        Files.write(g, fileBytes("{\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", data));
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(g)) {
            assertThat(s.read("b", m).toFloatArray()).containsExactly(1f, -2.5f, 65536f);
            assertThat(s.readRows("b", 1, 2, m).toFloatArray()).containsExactly(-2.5f, 65536f);
        }
    }

    @Test
    void float16FileWithKnownValuesIsReadAsFloat32() throws IOException {
        float[] exact = {0f, 1f, -2.5f, 0.125f, 65504f, -0.0009765625f, 5.9604645e-8f /* smallest subnormal */};
        try (NDManager m = NDManager.newBaseManager()) {
            Path f = tmp.resolve("h.safetensors");
            Safetensors.write(f, Map.of("h", m.create(exact).toType(DataType.FLOAT16, false)), Map.of());
            try (Safetensors s = Safetensors.open(f)) {
                assertThat(s.read("h", m).toFloatArray()).containsExactly(exact);
            }
            // 1.0 is 0x3c00, -2.0 is 0xc000
            Path g = tmp.resolve("h-bytes.safetensors");
            Files.write(g, fileBytes("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                    new byte[] {0x00, 0x3c, 0x00, (byte) 0xc0}));
            try (Safetensors s = Safetensors.open(g)) {
                assertThat(s.read("h", m).toFloatArray()).containsExactly(1f, -2f);
            }
        }
    }

    @Test
    void int16IsWidenedToInt32() throws IOException {
        // The engine aborts the JVM on INT16 arrays: this test passing at all shows none is created.
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (short v : new short[] {Short.MIN_VALUE, -1, 0, Short.MAX_VALUE}) {
            data.putShort(v);
        }
        Path f = tmp.resolve("i16.safetensors");
        Files.write(f, fileBytes("{\"i\":{\"dtype\":\"I16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", data.array()));
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(f)) {
            NDArray a = s.read("i", m);
            assertThat(a.getDataType()).isEqualTo(DataType.INT32);
            assertThat(a.getShape()).isEqualTo(new Shape(2, 2));
            assertThat(a.toIntArray()).containsExactly(Short.MIN_VALUE, -1, 0, Short.MAX_VALUE);
            assertThat(s.rowBytes("i", 1, 1).getShort()).isEqualTo((short) 0);
        }
    }

    @Test
    void readAsConverts() {
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(PYTHON_FILE)) {
            NDArray mask = s.readAs("mask", m, DataType.INT64);
            assertThat(mask.getDataType()).isEqualTo(DataType.INT64);
            float[] f = s.read("mask", m).toFloatArray();
            long[] l = mask.toLongArray();
            for (int i = 0; i < f.length; i++) {
                assertThat(l[i]).isEqualTo((long) f[i]);
            }
            assertThat(s.readAs("mask", m, DataType.FLOAT32).toFloatArray()).containsExactly(f);
            assertThatThrownBy(() -> s.readAs("mask", m, DataType.BFLOAT16))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot convert tensors to bfloat16");
        }
    }

    @Test
    void readsRowsAndRawBytesOfRows() {
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(PYTHON_FILE)) {
            NDArray all = s.read("latents", m);
            NDArray rows = s.readRows("latents", 1, 2, m);
            assertThat(rows.getShape()).isEqualTo(new Shape(2, 8, 8));
            assertThat(rows.toFloatArray()).containsExactly(all.get("1:3").toFloatArray());
            assertThat(s.readRows("latents", 3, 0, m).getShape()).isEqualTo(new Shape(0, 8, 8));
            ByteBuffer b = s.rowBytes("latents", 2, 1);
            assertThat(b.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(b.remaining()).isEqualTo(256);
            assertThat(b.getFloat(4)).isEqualTo(all.getFloat(2, 0, 1));
            for (long[] bad : new long[][] {{-1, 1}, {0, 4}, {3, 1}, {1, -1}, {1, Long.MAX_VALUE}}) {
                assertThatThrownBy(() -> s.readRows("latents", bad[0], bad[1], m))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensor 'latents' has 3 rows");
                assertThatThrownBy(() -> s.rowBytes("latents", bad[0], bad[1])).isInstanceOf(IllegalArgumentException.class);
            }
        }
    }

    @Test
    void arraysShareNoMemoryWithTheFileOrEachOther() throws IOException {
        Path f = tmp.resolve("copy.safetensors");
        Files.copy(PYTHON_FILE, f);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a;
            NDArray b;
            try (Safetensors s = Safetensors.open(f)) {
                a = s.read("latents", m);
                b = s.read("latents", m);
            }
            float[] expected = b.toFloatArray();
            a.addi(1f);
            Files.write(f, new byte[(int) Files.size(f)]);
            assertThat(b.toFloatArray()).containsExactly(expected);
            float[] plusOne = expected.clone();
            for (int i = 0; i < plusOne.length; i++) {
                plusOne[i] += 1f;
            }
            assertThat(a.toFloatArray()).containsExactly(plusOne);
        }
    }

    @Test
    void readingReleasesNativeMemory() throws IOException {
        Path f = tmp.resolve("mixed.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Safetensors.write(f, Map.of(
                    "f16", m.randomNormal(new Shape(4, 4)).toType(DataType.FLOAT16, false),
                    "bf16", fakeArray(DataType.BFLOAT16, new Shape(2), ByteBuffer.allocate(4)),
                    "f32", m.randomNormal(new Shape(4, 4))), Map.of());
        }
        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(f)) {
            BaseNDManager root = (BaseNDManager) m;
            int before = root.getManagedArrays().size();
            for (int i = 0; i < 50; i++) {
                try (NDManager step = m.newSubManager()) {
                    s.read("f16", step);
                    s.read("bf16", step);
                    s.readAs("f32", step, DataType.FLOAT64);
                    s.readRows("f32", 1, 2, step);
                    assertThat(((BaseNDManager) step).getManagedArrays()).hasSize(4);
                }
            }
            assertThat(root.getManagedArrays()).hasSize(before);
        }
    }

    @Test
    void absentTensorIsNamedWithTheAlternatives() {
        try (Safetensors s = Safetensors.open(PYTHON_FILE)) {
            assertThat(s.contains("images")).isTrue();
            assertThat(s.contains("nope")).isFalse();
            assertThatThrownBy(() -> s.info("nope")).isInstanceOf(TensorFileException.class)
                    .hasMessage(PYTHON_FILE + ": no tensor 'nope' (has: images, latents, reconstructions, mask, latents_masked)");
        }
    }

    @Test
    void readingAfterCloseSaysSo() {
        Safetensors s = Safetensors.open(PYTHON_FILE);
        s.close();
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> s.read("mask", m)).isInstanceOf(TensorFileException.class)
                    .hasMessage(PYTHON_FILE + ": cannot read tensor 'mask': the file was closed");
        }
    }

    @Test
    void headerEntriesCannotBeChangedFromOutside() {
        try (Safetensors s = Safetensors.open(PYTHON_FILE)) {
            s.info("mask").shape()[0] = 99;
            assertThat(s.info("mask").shape()).containsExactly(3, 16);
            assertThatThrownBy(() -> s.tensors().remove("mask")).isInstanceOf(UnsupportedOperationException.class);
        }
        assertThat(new TensorInfo("s", "F32", new long[0], 0, 4).numel()).isEqualTo(1);
        assertThat(new TensorInfo("e", "F32", new long[] {5, 0, 3}, 0, 0).numel()).isZero();
    }

    /** An array of a type the engine cannot create, offering only what the writer asks of it. */
    static NDArray fakeArray(DataType type, Shape shape, ByteBuffer bytes) {
        return (NDArray) Proxy.newProxyInstance(NDArray.class.getClassLoader(), new Class<?>[] {NDArray.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "getDataType" -> type;
                    case "getShape" -> shape;
                    case "toByteBuffer" -> bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
