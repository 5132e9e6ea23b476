package maetok4j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsWriterTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    @Test
    void headerIsPaddedJsonInTheGivenOrderWithMetadataFirst() throws IOException {
        Path f = tmp.resolve("h.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("z", m.ones(new Shape(2, 3)));
            t.put("a", m.create(new long[] {7}));
            t.put("m", m.create(new byte[] {1, 2, 3}));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("note", "\u00e9t\u00e9 \"quoted\"");
            Safetensors.write(f, t, meta);
        }
        byte[] bytes = Files.readAllBytes(f);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) b.getLong(0);
        assertThat(n % 8).isZero();
        String header = new String(bytes, 8, n, StandardCharsets.UTF_8);
        assertThat(header.stripTrailing()).endsWith("}");
        assertThat(header.substring(header.stripTrailing().length())).matches(" {0,7}");
        JsonNode json = new ObjectMapper().readTree(header);
        List<String> keys = new ArrayList<>();
        json.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).containsExactly("__metadata__", "z", "a", "m");
        assertThat(json.get("__metadata__").get("note").asText()).isEqualTo("\u00e9t\u00e9 \"quoted\"");
        assertThat(json.get("z").toString()).isEqualTo("{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}");
        assertThat(json.get("a").toString()).isEqualTo("{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}");
        assertThat(json.get("m").toString()).isEqualTo("{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[32,35]}");
        assertThat(bytes).hasSize(8 + n + 35);
        assertThat(b.getFloat(8 + n + 20)).isEqualTo(1f);
        assertThat(b.getLong(8 + n + 24)).isEqualTo(7);
        assertThat(bytes[bytes.length - 1]).isEqualTo((byte) 3);
    }

    @Test
    void piecesLandAtTheirRowsAndUnwrittenRowsAreZero() {
        Path f = tmp.resolve("p.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray full = m.arange(10f).reshape(5, 2);
            try (SafetensorsWriter w = SafetensorsWriter.create(f, Map.of(
                    "x", new SafetensorsWriter.Spec(DataType.FLOAT32, 5, 2),
                    "y", new SafetensorsWriter.Spec(DataType.INT64, 4)), Map.of())) {
                w.write("x", 3, full.get("3:5"));
                w.write("x", 0, full.get("0:3"));
                w.write("y", 1, m.create(new long[] {9}));
                assertThat(f).doesNotExist();
                w.commit();
            }
            try (Safetensors s = Safetensors.open(f)) {
                assertThat(s.read("x", m).toFloatArray()).containsExactly(full.toFloatArray());
                assertThat(s.read("y", m).toLongArray()).containsExactly(0, 9, 0, 0);
            }
        }
    }

    @Test
    void piecesThatDoNotFitAreRefused() {
        try (NDManager m = NDManager.newBaseManager();
                SafetensorsWriter w = SafetensorsWriter.create(tmp.resolve("never.safetensors"),
                        Map.of("x", new SafetensorsWriter.Spec(DataType.FLOAT32, 2, 2)), Map.of())) {
            w.write("x", 0, m.ones(new Shape(1, 2)));
            assertThatThrownBy(() -> w.write("x", 1, m.ones(new Shape(2, 2))))
                    .hasMessage("tensor 'x': cannot put float32 (2, 2) at row 1 of float32 [2, 2]");
            assertThatThrownBy(() -> w.write("x", Long.MAX_VALUE, m.ones(new Shape(1, 2)))).hasMessageContaining("cannot put");
            assertThatThrownBy(() -> w.write("x", 0, m.ones(new Shape(1, 3)))).hasMessageContaining("cannot put");
            assertThatThrownBy(() -> w.write("x", 0, m.ones(new Shape(1, 2), DataType.FLOAT64))).hasMessageContaining("cannot put");
            assertThatThrownBy(() -> w.write("y", 0, m.ones(new Shape(1, 2)))).hasMessage("no tensor 'y' was declared");
        }
        assertThat(tmp).isEmptyDirectory();
    }

    @Test
    void unwritableDeclarationsAreRefusedBeforeAnyFileExists() {
        assertThatThrownBy(() -> new SafetensorsWriter.Spec(DataType.FLOAT32, 2, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative dimension in shape [2, -1]");
        assertThatThrownBy(() -> new SafetensorsWriter.Spec(DataType.INT16, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("int16 cannot be written");
        try (NDManager m = NDManager.newBaseManager()) {
            Path f = tmp.resolve("meta.safetensors");
            assertThatThrownBy(() -> Safetensors.write(f, Map.of("__metadata__", m.ones(new Shape(1))), Map.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(f + ": a tensor cannot be named __metadata__");
        }
        assertThat(tmp).isEmptyDirectory();
    }

    @Test
    void aFailedWriteKeepsTheOldFileAndLeavesNoTempFile() throws IOException {
        Path f = tmp.resolve("keep.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Safetensors.write(f, Map.of("old", m.ones(new Shape(2))), Map.of());
            byte[] before = Files.readAllBytes(f);
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("new", m.zeros(new Shape(2)));
            // an array that fails when its bytes are asked for, after the first tensor was written
            t.put("bad", SafetensorsTest.fakeArray(DataType.FLOAT32, new Shape(2), null));
            assertThatThrownBy(() -> Safetensors.write(f, t, Map.of())).isInstanceOf(NullPointerException.class);
            assertThat(Files.readAllBytes(f)).isEqualTo(before);
            try (Stream<Path> files = Files.list(tmp)) {
                assertThat(files).containsExactly(f);
            }
        }
    }

    private static SafetensorsWriter.RawTensor raw(String dtype, long[] shape, int... bytes) {
        byte[] data = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            data[i] = (byte) bytes[i];
        }
        return new SafetensorsWriter.RawTensor(dtype, shape, data);
    }

    @Test
    void rawTensorsOfAnyDtypeReadBack() {
        Path f = tmp.resolve("raw.safetensors");
        Map<String, SafetensorsWriter.RawTensor> t = new LinkedHashMap<>();
        t.put("bf16", raw("BF16", new long[] {3}, 0xc0, 0x3f, 0x00, 0xc0, 0, 0)); // 1.5, -2, 0
        t.put("i16", raw("I16", new long[] {2}, 0xd4, 0xfe, 0x2c, 0x01)); // -300, 300
        t.put("scalar", raw("U8", new long[0], 7));
        t.put("empty", raw("F32", new long[] {0, 3}));

        SafetensorsWriter.writeRaw(f, t, Map.of("format", "pt"));

        try (NDManager m = NDManager.newBaseManager(); Safetensors s = Safetensors.open(f)) {
            assertThat(s.metadata()).containsExactly(Map.entry("format", "pt"));
            assertThat(s.tensors().keySet()).containsExactly("bf16", "i16", "scalar", "empty");
            t.forEach((name, r) -> {
                TensorInfo info = s.info(name);
                assertThat(info.dtype()).as(name).isEqualTo(r.dtype());
                assertThat(info.shape()).as(name).containsExactly(r.shape());
                assertThat(info.end() - info.begin()).as(name).isEqualTo(r.data().length);
            });
            assertThat(s.read("bf16", m).toFloatArray()).containsExactly(1.5f, -2f, 0f);
            assertThat(s.read("i16", m).toIntArray()).containsExactly(-300, 300);
            assertThat(s.rowBytes("scalar", 0, 1).get()).isEqualTo((byte) 7);
        }
        assertThat(tmp.toFile().list()).as("no temp file left").containsExactly("raw.safetensors");
    }

    @Test
    void rawTensorsGetTheSameFileAsArrays() throws IOException {
        Path arrays = tmp.resolve("arrays.safetensors");
        Path raw = tmp.resolve("raw.safetensors");
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            data.putFloat(i / 4f);
        }
        try (NDManager m = NDManager.newBaseManager()) {
            Safetensors.write(arrays, Map.of("x", m.arange(6f).div(4).reshape(2, 3)), Map.of("format", "pt"));
        }

        SafetensorsWriter.writeRaw(raw, Map.of("x", new SafetensorsWriter.RawTensor("F32", new long[] {2, 3},
                data.array())), Map.of("format", "pt"));

        assertThat(Files.readAllBytes(raw)).isEqualTo(Files.readAllBytes(arrays));
    }

    @Test
    void rawTensorsAreCheckedBeforeAnyFileExists() {
        assertThatThrownBy(() -> raw("U16", new long[] {1}, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("dtype U16 is not one of [BF16, BOOL, F16, F32, F64, I16, I32, I64, I8, U8]");
        assertThatThrownBy(() -> raw("BF16", new long[] {2}, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("BF16 [2] needs 4 bytes, got 2");
        assertThatThrownBy(() -> raw("I16", new long[] {-1})).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("negative dimension in shape [-1]");
        Path f = tmp.resolve("meta.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.writeRaw(f, Map.of("__metadata__", raw("U8", new long[0], 1)),
                Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": a tensor cannot be named __metadata__");
        assertThat(tmp).isEmptyDirectory();
    }

    @Test
    void anImpossibleTargetIsReported() throws IOException {
        Path blocker = Files.writeString(tmp.resolve("file"), "x");
        Path target = blocker.resolve("out.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> Safetensors.write(target, Map.of("x", m.ones(new Shape(1))), Map.of()))
                    .isInstanceOf(TensorFileException.class)
                    .hasMessageStartingWith(target + ": cannot write: ")
                    .hasMessageContaining(blocker.toString());
        }
    }
}
