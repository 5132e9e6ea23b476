package maetok4j.tensor;

import maetok4j.tensor.TorchCheckpoint.TensorData;
import maetok4j.tensor.TorchPickle.Dtype;
import maetok4j.tensor.TorchPickle.StorageRef;
import maetok4j.tensor.TorchPickle.TensorRef;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TorchCheckpointTest {

    /** Written by make_pth.py, which also wrote what torch holds for each of its model's tensors. */
    private static final Path CHECKPOINT = resource("pth/checkpoint.pth");
    private static final Path EXPECTED = resource("pth/expected.safetensors");

    @TempDir
    Path dir;

    private static float[] floats(TensorData t) {
        float[] f = new float[(int) t.numel()];
        t.buffer().asFloatBuffer().get(f);
        return f;
    }

    private static long[] longs(TensorData t) {
        long[] l = new long[(int) t.numel()];
        t.buffer().asLongBuffer().get(l);
        return l;
    }

    /** The state dict has torch's keys in torch's order, and each tensor torch's dtype, shape and bytes. */
    private static void assertSameAsTorch(Map<String, TensorData> sd) {
        assertSameAsTorch(sd, EXPECTED);
    }

    private static void assertSameAsTorch(Map<String, TensorData> sd, Path torch) {
        try (Safetensors expected = Safetensors.open(torch)) {
            assertThat(sd.keySet()).containsExactlyElementsOf(expected.tensors().keySet());
            expected.tensors().forEach((name, info) -> {
                TensorData t = sd.get(name);
                assertThat(t.dtype().name()).as(name).isEqualTo(info.dtype());
                assertThat(t.shape()).as(name).containsExactly(info.shape());
                long rows = info.shape().length == 0 ? 1 : info.shape()[0];
                byte[] bytes = new byte[(int) (info.end() - info.begin())];
                expected.rowBytes(name, 0, rows).get(bytes);
                assertThat(t.data()).as(name).containsExactly(bytes);
            });
        }
    }

    @Test
    void readsTheModelOfATrainingCheckpointAsTorchHoldsIt() {
        Map<String, TensorData> sd = TorchCheckpoint.stateDict(CHECKPOINT, null);

        assertSameAsTorch(sd);
        assertThat(floats(sd.get("transposed"))).containsExactly(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11);
        assertThat(floats(sd.get("slice"))).containsExactly(5, 6, 9, 10);
        assertThat(floats(sd.get("expanded"))).containsExactly(1.5f, -2f, 1.5f, -2f, 1.5f, -2f);
        assertThat(floats(sd.get("scalar"))).containsExactly(3.25f);
        assertThat(longs(sd.get("i64"))).containsExactly(-(1L << 40), 0, (1L << 62) + 7);
        assertThat(sd.get("mask").data()).containsExactly(1, 0, 1);
        assertThat(sd.get("empty").shape()).containsExactly(0, 3);
    }

    @Test
    void aKeyChoosesTheStateDict() {
        assertThat(TorchCheckpoint.stateDict(CHECKPOINT, "model")).isEqualTo(TorchCheckpoint.stateDict(CHECKPOINT, null));
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(CHECKPOINT, "ema")).isInstanceOf(TensorFileException.class)
                .hasMessage(CHECKPOINT + ": no entry 'ema' (top-level keys: ['model', 'epoch', 'best', 'tag', 'blob', "
                        + "'betas', 'steps', 'none', 'flag'])");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(CHECKPOINT, "epoch")).isInstanceOf(TensorFileException.class)
                .hasMessage(CHECKPOINT + ": entry 'epoch' has type int, not a state dict of tensors");
    }

    @Test
    void readsAPlainStateDictAtTheTopLevel() {
        Map<String, TensorData> sd = TorchCheckpoint.stateDict(resource("pth/pytorch_model.bin"), null);

        assertThat(sd.keySet()).containsExactly("w", "b");
        assertThat(floats(sd.get("w"))).containsExactly(1, 1, 1, 1);
        assertThat(floats(sd.get("b"))).containsExactly(0.5f, -0.5f);
    }

    @Test
    void convertsBigEndianStoragesToLittleEndian() {
        Map<String, TensorData> sd = TorchCheckpoint.stateDict(resource("pth/big_endian.pth"), null);

        assertThat(floats(sd.get("f32"))).containsExactly(0, 0.25f, 0.5f, 0.75f, 1, 1.25f);
        short[] f16 = new short[2];
        sd.get("f16").buffer().asShortBuffer().get(f16);
        assertThat(f16).as("1.5 and -2.0 in binary16").containsExactly((short) 0x3e00, (short) 0xc000);
        assertThat(longs(sd.get("i64"))).containsExactly(-(1L << 40), 7);
    }

    @Test
    void refusesACheckpointThatWouldRunCodeAndRunsNothing() {
        Path marker = Path.of("/tmp/maetok4j-torchpickle-marker"); // what malicious.pth would touch
        Path file = resource("pth/malicious.pth");
        assertThat(marker).doesNotExist();

        assertThatThrownBy(() -> TorchCheckpoint.stateDict(file, "model")).isInstanceOf(TensorFileException.class)
                .hasMessage(file + ": refuses to load: the pickle calls posix.system (only tensors, storages and plain "
                        + "containers are allowed)");
        assertThat(marker).doesNotExist();
    }

    @Test
    void refusesTrainingArgumentsUnlessAllowed() {
        Path file = resource("pth/namespace.pth");

        assertThatThrownBy(() -> TorchCheckpoint.stateDict(file, "model")).isInstanceOf(TensorFileException.class)
                .hasMessage(file + ": refuses to load: the pickle calls argparse.Namespace (only tensors, storages and "
                        + "plain containers are allowed; to read it as inert data, allow it: --allow-global "
                        + "argparse.Namespace)");
    }

    /** MAE's misc.save_model: model, optimizer, epoch, scaler and the training arguments as argparse.Namespace. */
    @Test
    void readsTheModelOfAnMaeCheckpointWithItsArgumentsAllowed() {
        Path file = resource("pth/namespace.pth");
        Set<String> allowed = Set.of("argparse.Namespace");

        Map<String, TensorData> sd = TorchCheckpoint.stateDict(file, "model", allowed);

        assertSameAsTorch(sd, resource("pth/namespace-model.safetensors"));
        assertThat(TorchCheckpoint.stateDict(file, null, allowed)).as("the only state dict").isEqualTo(sd);
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(file, "args", allowed))
                .hasMessage(file + ": entry 'args' has type argparse.Namespace, not a state dict of tensors");
    }

    @Test
    void refusesToAllowCodeBeforeOpeningTheFile() {
        Path missing = dir.resolve("missing.pth");

        for (String name : List.of("os.system", "posix.system")) {
            assertThatThrownBy(() -> TorchCheckpoint.stateDict(missing, "model", Set.of("argparse.Namespace", name)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("cannot allow " + name + ": ");
        }
        Path malicious = resource("pth/malicious.pth");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(malicious, "model", Set.of("argparse.Namespace")))
                .hasMessageStartingWith(malicious + ": refuses to load: the pickle calls posix.system (");
    }

    @Test
    void refusesOtherFormatsClearly() throws IOException {
        Path legacy = resource("pth/legacy.pth");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(legacy, null)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(legacy + ": the legacy PyTorch format (before 1.6) is not supported; ")
                .hasMessageContaining("torch.save(torch.load(f, weights_only=True), 'new.pth')");

        Path script = resource("torchscript/features.pt");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(script, null)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(script + ": a TorchScript module (torch.jit.save)");

        Path pickle = resource("pth/plain-protocol2.pkl");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(pickle, null)).isInstanceOf(TensorFileException.class)
                .hasMessage(pickle + ": not a PyTorch checkpoint (no zip archive; a bare pickle)");

        Path text = Files.writeString(dir.resolve("notes.pth"), "hello");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(text, null)).isInstanceOf(TensorFileException.class)
                .hasMessage(text + ": not a PyTorch checkpoint (no zip archive; unknown format)");

        Path missing = dir.resolve("missing.pth");
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(missing, null)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(missing + ": cannot read: ");
    }

    @Test
    void reportsATruncatedArchive() throws IOException {
        byte[] whole = Files.readAllBytes(CHECKPOINT);
        Path half = Files.write(dir.resolve("half.pth"), Arrays.copyOf(whole, whole.length / 2));

        assertThatThrownBy(() -> TorchCheckpoint.stateDict(half, null)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(half + ": damaged or truncated zip archive (");
    }

    /** A copy of checkpoint.pth with each entry's content changed by {@code edit} (null drops the entry). */
    private Path editedCheckpoint(BiFunction<String, byte[], byte[]> edit) throws IOException {
        Path out = dir.resolve("edited.pth");
        try (ZipFile in = new ZipFile(CHECKPOINT.toFile());
                ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(out))) {
            for (ZipEntry e : Collections.list(in.entries())) {
                byte[] data = edit.apply(e.getName(), in.getInputStream(e).readAllBytes());
                if (data != null) {
                    zip.putNextEntry(new ZipEntry(e.getName()));
                    zip.write(data);
                    zip.closeEntry();
                }
            }
        }
        return out;
    }

    @Test
    void reportsMissingOrShortStorages() throws IOException {
        Path missing = editedCheckpoint((name, data) -> name.equals("checkpoint/data/3") ? null : data);
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(missing, null)).isInstanceOf(TensorFileException.class)
                .hasMessage(missing + ": storage checkpoint/data/3 is missing (truncated or damaged archive)");

        Path shorter = editedCheckpoint((name, data) -> name.equals("checkpoint/data/0") ? Arrays.copyOf(data, 40) : data);
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(shorter, null)).isInstanceOf(TensorFileException.class)
                .hasMessage(shorter + ": storage checkpoint/data/0 has 40 bytes, its 12 F32 elements need 48");

        Path noPickle = editedCheckpoint((name, data) -> name.endsWith("data.pkl") ? null : data);
        assertThatThrownBy(() -> TorchCheckpoint.stateDict(noPickle, null)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(noPickle + ": not a PyTorch checkpoint (a zip with 0 <folder>/data.pkl entries");
    }

    @Test
    void writesSafetensorsThatReadBackAsTorchHoldsThem() {
        Path out = dir.resolve("model.safetensors");

        TorchCheckpoint.writeSafetensors(TorchCheckpoint.stateDict(CHECKPOINT, null), out);

        try (Safetensors st = Safetensors.open(out)) {
            assertThat(st.metadata()).containsExactly(Map.entry("format", "pt"));
            Map<String, TensorData> back = new LinkedHashMap<>();
            st.tensors().forEach((name, info) -> {
                long rows = info.shape().length == 0 ? 1 : info.shape()[0];
                ByteBuffer b = st.rowBytes(name, 0, rows);
                byte[] data = new byte[b.remaining()];
                b.get(data);
                back.put(name, new TensorData(Dtype.valueOf(info.dtype()), info.shape(), data));
            });
            assertSameAsTorch(back);
        }
        assertThat(dir.toFile().list()).as("no temp file left").containsExactly("model.safetensors");
    }

    @Test
    void autoDetectionLeavesAChoiceBetweenStateDictsToTheCaller() {
        TensorRef t = new TensorRef(new StorageRef(Dtype.F32, "0", "cpu", 1), 0, new long[0], new long[0]);
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("model", Map.of("w", t));
        root.put("ema", Map.of("w", t));
        root.put("epoch", 3L);

        assertThatThrownBy(() -> TorchCheckpoint.select("f.pth", root, null)).isInstanceOf(TensorFileException.class)
                .hasMessage("f.pth: several state dicts [model, ema]; choose one by key (top-level keys: ['model', "
                        + "'ema', 'epoch'])");
        assertThat(TorchCheckpoint.select("f.pth", root, "ema")).containsExactly(Map.entry("w", t));
        assertThatThrownBy(() -> TorchCheckpoint.select("f.pth", List.of(t), null))
                .hasMessage("f.pth: no state dict (a dict of tensors) found (the file holds a tuple)");
        assertThatThrownBy(() -> TorchCheckpoint.select("f.pth", Map.of("model", Map.of("w", t, "n", 1L)), "model"))
                .hasMessageContaining("its entry 'n' has type int, not a tensor");
    }

    @Test
    void gathersStridedViewsInCOrder() {
        // a [2, 3, 4] arange permuted to [4, 3, 2] (strides 1, 4, 12), as x.permute(2, 1, 0)
        ByteBuffer storage = ByteBuffer.allocate(24 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 24; i++) {
            storage.putFloat(i);
        }
        TensorRef view = new TensorRef(new StorageRef(Dtype.F32, "0", "cpu", 24), 0, new long[] {4, 3, 2},
                new long[] {1, 4, 12});

        float[] out = floats(new TensorData(Dtype.F32, view.shape(), TorchCheckpoint.contiguous(storage.array(), view)));

        float[] expected = new float[24];
        int n = 0;
        for (int a = 0; a < 4; a++) {
            for (int b = 0; b < 3; b++) {
                for (int c = 0; c < 2; c++) {
                    expected[n++] = a + 4 * b + 12 * c;
                }
            }
        }
        assertThat(out).containsExactly(expected);
    }
}
