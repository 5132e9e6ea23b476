package maetok4j.tensor;

import maetok4j.tensor.TorchPickle.Dtype;
import maetok4j.tensor.TorchPickle.PythonObject;
import maetok4j.tensor.TorchPickle.StorageRef;
import maetok4j.tensor.TorchPickle.TensorRef;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TorchPickleTest {

    private static final String SRC = "src.pth";
    private static final Set<String> NAMESPACE = Set.of("argparse.Namespace");

    /** A pickle from pieces: an Integer is one byte, a String its Latin-1 bytes (opcodes are mostly ASCII). */
    private static byte[] pickle(Object... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object p : parts) {
            if (p instanceof Integer b) {
                out.write(b);
            } else {
                out.writeBytes(((String) p).getBytes(StandardCharsets.ISO_8859_1));
            }
        }
        return out.toByteArray();
    }

    private static Object load(byte[] pickle) {
        return TorchPickle.load(pickle, SRC);
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> dict(Object o) {
        return (Map<Object, Object>) o;
    }

    private static Object loadResource(String name) throws IOException {
        return TorchPickle.load(Files.readAllBytes(resource("pth/" + name)), name);
    }

    /** make_pth.py's plain(), except its bytes value. */
    private static Map<Object, Object> plainWithoutBytes() {
        List<Object> shared = new ArrayList<>(List.of(1L));
        Map<Object, Object> m = new LinkedHashMap<>();
        m.put("int", List.of(0L, 255L, 65535L, -1L, (long) Integer.MAX_VALUE, (long) Integer.MIN_VALUE, 1L << 40,
                Long.MIN_VALUE, BigInteger.TWO.pow(63), BigInteger.TWO.pow(70).negate()));
        m.put("float", List.of(0.1, -2.5e300));
        m.put("str", List.of("", "h\u00e9llo \u2713", "x".repeat(300)));
        m.put("tuple", List.of(List.of(), List.of(1L), List.of(1L, 2L), List.of(1L, 2L, 3L), List.of(1L, 2L, 3L, 4L)));
        m.put("other", Arrays.asList(true, false, null));
        m.put(7L, "int key");
        m.put(List.of(1L, "a"), "tuple key");
        m.put("shared", List.of(shared, shared));
        return m;
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5})
    void readsPlainValuesOfEveryProtocol(int protocol) throws IOException {
        @SuppressWarnings("unchecked")
        Map<Object, Object> m = (Map<Object, Object>) loadResource("plain-protocol" + protocol + ".pkl");

        assertThat(m.keySet()).containsExactly("int", "float", "str", "tuple", "other", "bytes", 7L, List.of(1L, "a"),
                "shared");
        assertThat((byte[]) m.remove("bytes")).containsExactly(0, 1, 0xff);
        assertThat(m).isEqualTo(plainWithoutBytes());
        assertThat(m.get("int")).isInstanceOf(ArrayList.class);
        assertThat(((List<?>) m.get("tuple")).get(1)).isNotInstanceOf(ArrayList.class);
        List<?> shared = (List<?>) m.get("shared");
        assertThat(shared.get(0)).as("memoized once, shared").isSameAs(shared.get(1));
    }

    @Test
    void readsBytearraysOfProtocol5() {
        // pickle.dumps(bytearray(b"ab"), protocol=5): FRAME, BYTEARRAY8, MEMOIZE
        assertThat((byte[]) load(HexFormat.of().parseHex("8005950d000000000000009602000000000000006162942e")))
                .containsExactly('a', 'b');
    }

    /** _rebuild_parameter_with_state(_rebuild_tensor(storage, 2, (2, 3), (1, 2)), True, {}, {}) and torch.Size((2, 3)). */
    @Test
    void rebuildsTensorsParametersAndSizes() {
        byte[] storage = pickle("(", 0x8c, 7, "storage", "ctorch\nFloatStorage\n", 0x8c, 1, "0", 0x8c, 3, "cpu", "K", 8,
                "tQ");
        byte[] tensor = pickle("ctorch._utils\n_rebuild_tensor\n(", new String(storage, StandardCharsets.ISO_8859_1),
                "K", 2, "K", 2, "K", 3, 0x86, "K", 1, "K", 2, 0x86, "tR");
        byte[] p = pickle(0x80, 2, "}(", 0x8c, 1, "p", "ctorch._utils\n_rebuild_parameter_with_state\n(",
                new String(tensor, StandardCharsets.ISO_8859_1), 0x88, "}}tR",
                0x8c, 4, "size", "ctorch\nSize\n", "K", 2, "K", 3, 0x86, 0x85, "R", "u.");

        Map<?, ?> m = (Map<?, ?>) load(p);

        TensorRef t = (TensorRef) m.get("p");
        assertThat(t.storage()).isEqualTo(new StorageRef(Dtype.F32, "0", "cpu", 8));
        assertThat(t.offset()).isEqualTo(2);
        assertThat(t.shape()).containsExactly(2, 3);
        assertThat(t.stride()).containsExactly(1, 2);
        assertThat(m.get("size")).isEqualTo(List.of(2L, 3L));
    }

    @Test
    void refusesGlobalsThatRunCodeWithoutSuggestingToLoadThem() {
        // class E: __reduce__ = lambda self: (eval, ("1",)); pickle.dumps(E(), protocol=4): STACK_GLOBAL, REDUCE
        byte[] p = HexFormat.of().parseHex("8004951d000000000000008c086275696c74696e73948c046576616c9493948c013194859452942e");

        assertThatThrownBy(() -> load(p)).isInstanceOf(TensorFileException.class).hasMessage(SRC
                + ": refuses to load: the pickle calls builtins.eval (only tensors, storages and plain containers are allowed)");
    }

    @Test
    void refusesOtherGlobalsSuggestingToAllowThem() {
        byte[] p = pickle(0x80, 2, "ccollections\nCounter\n}", 0x85, "R.");

        assertThatThrownBy(() -> load(p)).isInstanceOf(TensorFileException.class).hasMessage(SRC + ": refuses to load: "
                + "the pickle calls collections.Counter (only tensors, storages and plain containers are allowed; to "
                + "read it as inert data, allow it: --allow-global collections.Counter)");
        assertThatThrownBy(() -> TorchPickle.load(p, SRC, NAMESPACE)).as("other classes stay refused")
                .hasMessageStartingWith(SRC + ": refuses to load: the pickle calls collections.Counter (");
    }

    /** What MAE's misc.save_model writes: the training arguments are an argparse.Namespace. */
    @Test
    void readsAnAllowedClassAsInertData() throws IOException {
        byte[] p;
        try (ZipFile zip = new ZipFile(resource("pth/namespace.pth").toFile())) {
            p = zip.getInputStream(zip.getEntry("namespace/data.pkl")).readAllBytes();
        }

        Map<Object, Object> m = dict(TorchPickle.load(p, SRC, NAMESPACE));

        assertThat(m.keySet()).containsExactly("model", "optimizer", "epoch", "scaler", "args");
        PythonObject args = (PythonObject) m.get("args");
        assertThat(args.className()).isEqualTo("argparse.Namespace");
        assertThat(args.args()).isEmpty();
        assertThat(args.state()).hasSize(16).containsEntry("batch_size", 64L).containsEntry("model", "vmae_base")
                .containsEntry("blr", 1.5e-4).containsEntry("lr", null).containsEntry("distributed", false);
        assertThat(m.get("epoch")).isEqualTo(399L);
        assertThat(m.get("scaler")).isEqualTo(Map.of("scale", 65536.0, "growth_factor", 2.0, "backoff_factor", 0.5,
                "growth_interval", 2000L, "_growth_tracker", 0L));
        Map<Object, Object> optimizer = dict(m.get("optimizer"));
        Map<Object, Object> group = dict(((List<?>) optimizer.get("param_groups")).get(0));
        assertThat(group.get("betas")).isEqualTo(List.of(0.9, 0.95));
        assertThat(group.get("params")).isEqualTo(List.of(0L, 1L, 2L, 3L));
        Map<Object, Object> state = dict(optimizer.get("state"));
        assertThat(state.keySet()).containsExactly(0L, 1L, 2L, 3L);
        assertThat(dict(state.get(0L))).containsOnlyKeys("step", "exp_avg", "exp_avg_sq")
                .allSatisfy((k, v) -> assertThat(v).isInstanceOf(TensorRef.class));
        assertThatThrownBy(() -> load(p)).as("refused unless allowed")
                .hasMessageContaining("the pickle calls argparse.Namespace");
    }

    @Test
    void buildsAllowedInstancesByReduceAndNewobjWithoutCallingThem() {
        // argparse.Namespace(*(1,)) by REDUCE, then BUILD {'lr': 5}
        PythonObject reduced = (PythonObject) TorchPickle.load(pickle(0x80, 2, "cargparse\nNamespace\n", "K", 1, 0x85,
                "R}", 0x8c, 2, "lr", "K", 5, "sb."), SRC, NAMESPACE);
        // protocol 4: STACK_GLOBAL, NEWOBJ_EX with no keyword arguments
        PythonObject newobjEx = (PythonObject) TorchPickle.load(pickle(0x80, 4, 0x8c, 8, "argparse", 0x8c, 9,
                "Namespace", 0x93, ")}", 0x92, "."), SRC, NAMESPACE);
        // ns.me = ns: the state refers to the instance, memoized before BUILD
        PythonObject cyclic = (PythonObject) TorchPickle.load(pickle(0x80, 2, "cargparse\nNamespace\n)", 0x81, "q", 0,
                "}", 0x8c, 2, "me", "h", 0, "sb."), SRC, NAMESPACE);

        assertThat(reduced.args()).containsExactly(1L);
        assertThat(reduced.state()).containsExactly(Map.entry("lr", 5L));
        assertThat(newobjEx.className()).isEqualTo("argparse.Namespace");
        assertThat(newobjEx.args()).isEmpty();
        assertThat(newobjEx.state()).isEmpty();
        assertThat(cyclic.state().get("me")).as("shared, with its state").isSameAs(cyclic);
    }

    static Stream<Arguments> refusedEvenWhenAllowed() {
        return Stream.of(
                Arguments.of(pickle(0x80, 2, "cargparse\nNamespace\n}R."),
                        "creates argparse.Namespace from dict arguments instead of a tuple"),
                Arguments.of(pickle(0x80, 2, "}", 0x8c, 1, "c", "cargparse\nNamespace\ns."),
                        "keeps the class argparse.Namespace as a value"),
                Arguments.of(pickle(0x80, 2, "cargparse\nNamespace\n)", 0x81, "N}", 0x86, "b."),
                        "sets the state of an object of type argparse.Namespace with BUILD from a tuple, not a dict"),
                Arguments.of(pickle(0x80, 2, "cargparse\nNamespace\n}b."),
                        "sets the state of an object of type class argparse.Namespace with BUILD"),
                Arguments.of(pickle(0x80, 2, "cargparse\nNamespace\n)", 0x81, ")R."),
                        "calls an object of type argparse.Namespace"),
                Arguments.of(pickle("(iargparse\nNamespace\n."), "creates an object with INST"),
                Arguments.of(pickle(0x80, 2, "(cargparse\nNamespace\no."), "creates an object with OBJ"));
    }

    @ParameterizedTest
    @MethodSource
    void refusedEvenWhenAllowed(byte[] pickle, String problem) {
        assertThatThrownBy(() -> TorchPickle.load(pickle, SRC, NAMESPACE)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(SRC + ": refuses to load: ").hasMessageContaining(problem);
    }

    @Test
    void allowedInstancesHaveOnlyPlainShapes() {
        byte[] key = pickle(0x80, 2, "}cargparse\nNamespace\n)", 0x81, "K", 1, "s.");
        byte[] attribute = pickle(0x80, 2, "cargparse\nNamespace\n)", 0x81, "}K", 1, "K", 2, "sb.");
        byte[] kwargs = pickle(0x80, 4, "cargparse\nNamespace\n)}", 0x8c, 1, "a", "K", 1, "s", 0x92, ".");

        assertThatThrownBy(() -> TorchPickle.load(key, SRC, NAMESPACE))
                .hasMessageContaining("an object of type argparse.Namespace cannot be a dict key");
        assertThatThrownBy(() -> TorchPickle.load(attribute, SRC, NAMESPACE))
                .hasMessageContaining("attribute name has type int, not str");
        assertThatThrownBy(() -> TorchPickle.load(kwargs, SRC, NAMESPACE))
                .hasMessageContaining("keyword arguments to __new__ (dict) are not supported");
    }

    @ParameterizedTest
    @ValueSource(strings = {"os.system", "posix.system", "nt.system", "os.path.join", "builtins.eval",
            "subprocess.Popen", "importlib.import_module"})
    void refusesToAllowModulesThatRunCode(String name) {
        assertThatThrownBy(() -> TorchPickle.load(pickle(0x80, 2, "N."), SRC, Set.of(name)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot allow " + name + ": the module " + name.substring(0, name.indexOf('.'))
                        + " runs code");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Namespace", "argparse.", ".Namespace", "argparse..Namespace", "argparse.Name space",
            "argparse.Namespace\nos", "1a.B"})
    void refusesToAllowWhatIsNotAClassName(String name) {
        assertThatThrownBy(() -> TorchPickle.load(pickle(0x80, 2, "N."), SRC, Set.of(name)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot allow " + name + ": not a name of the form module.Class");
    }

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of(pickle(0x80, 2, 0x8c, 1, "f)R."), "the pickle calls an object of type str"),
                Arguments.of(pickle(0x80, 2, "ccollections\nOrderedDict\n)", 0x81, "."), "creates an object with NEWOBJ"),
                Arguments.of(pickle("(ios\nsystem\n."), "the pickle calls os.system"),
                Arguments.of(pickle("(icollections\nOrderedDict\n."), "creates an object with INST"),
                Arguments.of(pickle(0x80, 2, "}}b."), "sets the state of an object of type dict with BUILD"),
                Arguments.of(pickle(0x80, 2, 0x8c, 6, "module", 0x85, "Q."), "persistent id that is not a storage"),
                Arguments.of(pickle(0x80, 2, 0x82, 1, "."), "extension registry (EXT1)"));
    }

    @ParameterizedTest
    @MethodSource("refused")
    void refusesCallsAndObjectsOutsideTheAllowList(byte[] pickle, String problem) {
        assertThatThrownBy(() -> load(pickle)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(SRC + ": refuses to load: ").hasMessageContaining(problem);
    }

    static Stream<Arguments> damaged() throws IOException {
        byte[] plain = Files.readAllBytes(resource("pth/plain-protocol2.pkl"));
        return Stream.of(
                Arguments.of(pickle(0x80, 2, 0xff), "unknown opcode 0xff"),
                Arguments.of(Arrays.copyOf(plain, 100), "unexpected end (truncated?)"),
                Arguments.of(pickle(0x80, 2, "X", 0xff, 0xff, 0xff, 0x7f, "a"), "a length of 2147483647 bytes"),
                Arguments.of(pickle("I1\n."), "the protocol 0 text opcode INT is not supported"),
                Arguments.of(pickle(0x80, 4, 0x8f, "K", 1, 0x90, "."), "sets are not supported"),
                Arguments.of(pickle(0x80, 6, "N."), "protocol 6 is newer than 5"),
                Arguments.of(pickle(0x80, 2, "N.."), "1 bytes follow the end"),
                Arguments.of(pickle(0x80, 2, "NN."), "ends with 2 objects"),
                Arguments.of(pickle(0x80, 2, "R."), "stack underflow"),
                Arguments.of(pickle(0x80, 2, "N(R."), "stack underflow"),
                Arguments.of(pickle(0x80, 2, ")K", 1, "a."), "cannot append to an object of type tuple"),
                Arguments.of(pickle(0x80, 2, "}]K", 1, "s."), "an object of type list cannot be a dict key"),
                Arguments.of(pickle(0x80, 2, "h", 5, "."), "memo entry 5 was never stored"),
                Arguments.of(pickle(0x80, 2, "ctorch._utils\n_rebuild_tensor\n)R."), "takes 4 arguments, got 0"));
    }

    @ParameterizedTest
    @MethodSource("damaged")
    void reportsDamagedOrUnsupportedPickles(byte[] pickle, String problem) {
        assertThatThrownBy(() -> load(pickle)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(SRC + ": cannot read the pickle: ").hasMessageContaining(problem);
    }

    @Test
    void tensorViewsMustLieInsideTheirStorage() {
        StorageRef twelve = new StorageRef(Dtype.F32, "0", "cpu", 12);

        assertThatThrownBy(() -> new TensorRef(twelve, 10, new long[] {2, 2}, new long[] {2, 1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reaches past the 12 elements");
        assertThatThrownBy(() -> new TensorRef(twelve, 0, new long[] {2}, new long[] {-1}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TensorRef(twelve, 0, new long[] {2}, new long[] {1, 1}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(new TensorRef(twelve, 99, new long[] {0, 3}, new long[] {3, 1}).numel()).as("empty").isZero();
        assertThat(new TensorRef(twelve, 11, new long[] {}, new long[] {}).numel()).as("0-d").isEqualTo(1);
    }

    @Test
    void contiguityIgnoresDimensionsOfSizeOne() {
        StorageRef twelve = new StorageRef(Dtype.F32, "0", "cpu", 12);

        assertThat(new TensorRef(twelve, 0, new long[] {3, 4}, new long[] {4, 1}).isContiguous()).isTrue();
        assertThat(new TensorRef(twelve, 0, new long[] {4, 3}, new long[] {1, 4}).isContiguous()).isFalse();
        assertThat(new TensorRef(twelve, 0, new long[] {3, 1}, new long[] {1, 7}).isContiguous()).isTrue();
        assertThat(new TensorRef(twelve, 0, new long[] {3, 2}, new long[] {0, 1}).isContiguous()).isFalse();
    }
}
