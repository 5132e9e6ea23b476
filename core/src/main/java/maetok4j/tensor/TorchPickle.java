package maetok4j.tensor;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A restricted interpreter for the pickle inside a PyTorch checkpoint ({@code data.pkl} of a {@code torch.save}
 * zip). A pickle is a program: its {@code GLOBAL}/{@code STACK_GLOBAL} opcodes import any Python name and
 * {@code REDUCE}, {@code BUILD}, {@code NEWOBJ}, {@code INST} and {@code OBJ} call it, which is how a checkpoint
 * can run {@code os.system}. This class never runs anything from the file: it executes the opcodes of protocols
 * 2 to 5 on a Java stack and builds Java objects, following the rule of {@code torch.load(weights_only=True)}:
 * only globals on an allow-list may be named, and only the tensor rebuild functions and {@code OrderedDict} may
 * be called. Any other global is refused when it is named, before anything could call it.
 *
 * <p>Allowed: the rebuild functions {@code torch._utils._rebuild_tensor_v2}, {@code _rebuild_tensor},
 * {@code _rebuild_parameter} and {@code _rebuild_parameter_with_state} (a tensor becomes a {@link TensorRef},
 * a parameter the tensor it wraps); {@code collections.OrderedDict} ({@code BUILD} may set its attributes, such
 * as a state dict's {@code _metadata}, which are dropped); the storage classes of {@link Dtype}, only inside a
 * persistent id {@code ('storage', torch.FloatStorage, key, location, numel)} ({@code BINPERSID}, read as a
 * {@link StorageRef}); {@code torch.Size}; and {@code _codecs.encode}, which protocol 2 uses for bytes. Weights
 * only need these; {@code weights_only} also allows dtypes, {@code torch.device}, sets, quantized and sparse
 * tensors, which are refused here.
 *
 * <p>Like {@code torch.serialization.add_safe_globals}, a caller may allow further classes by name, such as the
 * {@code argparse.Namespace} that training scripts save beside the weights. An allowed class may be named and
 * instantiated the ways Python creates an instance of a plain class without calling code of the file's choosing:
 * {@code NEWOBJ} or {@code NEWOBJ_EX} ({@code cls.__new__(cls, *args)}) or {@code REDUCE} of the class itself
 * with a tuple of arguments, then {@code BUILD} with a dict of attributes. The instance becomes an inert
 * {@link PythonObject}; nothing is called. Any other use of an allowed class, such as keeping the class itself
 * as a value, is refused.
 *
 * <p>The result is built from: {@code null} (None), {@link Boolean}, {@link Long} or {@link BigInteger} (int),
 * {@link Double} (float), {@link String}, {@code byte[]} (bytes, bytearray), {@link ArrayList} (list), an
 * unmodifiable {@link List} (tuple), {@link LinkedHashMap} (dict, OrderedDict; insertion order kept),
 * {@link TensorRef}, {@link StorageRef}, {@link PythonObject} (an instance of an allowed class), and
 * {@link Dtype} for a storage class used as a value. Objects the
 * pickle shares through its memo ({@code BINPUT}/{@code BINGET}) are shared, e.g. tied weights.
 */
public final class TorchPickle {

    /** The highest protocol this reads (Python 3.8+ writes 5; torch.save writes 2). */
    private static final int MAX_PROTOCOL = 5;
    /**
     * Top-level modules whose globals run code or reach the system, as pickle exploits use them: they cannot be
     * allowed, and refusing one of their globals does not suggest allowing it.
     */
    private static final Set<String> CODE_MODULES = Set.of("os", "posix", "nt", "sys", "subprocess", "builtins",
            "__builtin__", "runpy", "shutil", "socket", "importlib", "pickle", "_pickle", "marshal", "types",
            "webbrowser", "ctypes", "code", "codeop", "pty", "timeit", "pdb", "multiprocessing", "asyncio",
            "_posixsubprocess", "commands", "operator", "functools", "io", "_io");
    /** A class name a caller may allow: {@code module.Class}, or {@code package.module.Outer.Inner}. */
    private static final Pattern CLASS_NAME = Pattern.compile("[A-Za-z_]\\w*(\\.[A-Za-z_]\\w*)+");
    private static final String ALLOWED = "only tensors, storages and plain containers are allowed";

    /**
     * The element type of a tensor storage, named as safetensors names it, with the PyTorch storage class
     * ({@code torch.FloatStorage}, ...) that a persistent id gives it and the size of one element in bytes.
     */
    public enum Dtype {
        F64("DoubleStorage", 8), F32("FloatStorage", 4), F16("HalfStorage", 2), BF16("BFloat16Storage", 2),
        I64("LongStorage", 8), I32("IntStorage", 4), I16("ShortStorage", 2), I8("CharStorage", 1),
        U8("ByteStorage", 1), BOOL("BoolStorage", 1);

        private final String storageClass;
        private final int size;

        Dtype(String storageClass, int size) {
            this.storageClass = storageClass;
            this.size = size;
        }

        /** Bytes per element. */
        public int size() {
            return size;
        }

        /** The Python name of the storage class, e.g. {@code torch.FloatStorage}. */
        public String storageClass() {
            return "torch." + storageClass;
        }

        private static Dtype ofStorageClass(String qualifiedName) {
            for (Dtype d : values()) {
                if (d.storageClass().equals(qualifiedName)) {
                    return d;
                }
            }
            return null;
        }
    }

    /**
     * A storage, from the persistent id {@code ('storage', torch.FloatStorage, '0', 'cpu', 12)}: {@code numel}
     * elements of {@code dtype} in the archive entry {@code data/<key>}; {@code location} is the device it was
     * saved from ("cpu", "cuda:0"), which does not change its bytes.
     */
    public record StorageRef(Dtype dtype, String key, String location, long numel) {

        public StorageRef {
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(location, "location");
            if (key == null || key.isEmpty()) {
                throw new IllegalArgumentException("storage key is empty");
            }
            if (numel < 0) {
                throw new IllegalArgumentException("storage '" + key + "' has a negative size " + numel);
            }
        }

        /** Bytes of the storage's archive entry. */
        public long bytes() {
            return Math.multiplyExact(numel, dtype.size());
        }
    }

    /**
     * A tensor as {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)} describes it: element
     * {@code [i0, i1, ...]} is storage element {@code offset + i0*stride[0] + i1*stride[1] + ...}. Views
     * (transposes, slices, expands) keep their storage, so several tensors may share one, possibly overlapping.
     * The constructor checks that every element lies inside the storage.
     */
    public record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride) {

        public TensorRef {
            Objects.requireNonNull(storage, "storage");
            shape = shape.clone();
            stride = stride.clone();
            String view = "view of offset " + offset + ", shape " + Arrays.toString(shape) + ", stride "
                    + Arrays.toString(stride);
            if (shape.length != stride.length || offset < 0 || Arrays.stream(shape).anyMatch(d -> d < 0)
                    || Arrays.stream(stride).anyMatch(s -> s < 0)) {
                throw new IllegalArgumentException("invalid tensor " + view);
            }
            if (numel(shape) != 0 && lastElement(offset, shape, stride) >= storage.numel()) {
                throw new IllegalArgumentException("tensor " + view + " reaches past the " + storage.numel()
                        + " elements of storage '" + storage.key() + "'");
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public long[] stride() {
            return stride.clone();
        }

        /** Number of elements: 1 for a 0-d tensor, 0 if any dimension is 0. */
        public long numel() {
            return numel(shape);
        }

        /** Whether the elements lie in storage order with no gaps (C order), so they can be copied as one run. */
        public boolean isContiguous() {
            long expected = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                if (shape[i] != 1 && stride[i] != expected) {
                    return false;
                }
                expected *= shape[i];
            }
            return true;
        }

        private static long numel(long[] shape) {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        /** The storage index of the last element, for a tensor with at least one element. */
        private static long lastElement(long offset, long[] shape, long[] stride) {
            try {
                long last = offset;
                for (int i = 0; i < shape.length; i++) {
                    last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, stride[i]));
                }
                return last;
            } catch (ArithmeticException e) {
                return Long.MAX_VALUE;
            }
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TensorRef t && storage.equals(t.storage) && offset == t.offset
                    && Arrays.equals(shape, t.shape) && Arrays.equals(stride, t.stride);
        }

        @Override
        public int hashCode() {
            return 31 * storage.hashCode() + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return storage.dtype() + " " + Arrays.toString(shape) + " (storage '" + storage.key() + "', offset "
                    + offset + ", stride " + Arrays.toString(stride) + ")";
        }
    }

    /**
     * An instance of a class the caller allowed, as the pickle built it: {@code className} is the qualified name,
     * {@code args} the tuple given to {@code NEWOBJ} or {@code REDUCE}, and {@code state} the instance's
     * attributes ({@code __dict__}), which {@code BUILD} fills, so every reference to the instance in the pickle
     * sees them. Nothing of the class was run to make it.
     */
    public record PythonObject(String className, List<Object> args, Map<String, Object> state) {

        public PythonObject {
            Objects.requireNonNull(args, "args");
            Objects.requireNonNull(state, "state");
            if (className == null || !CLASS_NAME.matcher(className).matches()) {
                throw new IllegalArgumentException("not a qualified class name: " + className);
            }
        }
    }

    /** GLOBAL of an allowed class: it may only be instantiated, never kept. */
    private record AllowedClass(String qualifiedName) {}

    /** The callable globals: what a weights-only pickle may call with REDUCE. */
    private enum Function {
        ORDERED_DICT("collections.OrderedDict"),
        REBUILD_TENSOR("torch._utils._rebuild_tensor"),
        REBUILD_TENSOR_V2("torch._utils._rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils._rebuild_parameter"),
        REBUILD_PARAMETER_WITH_STATE("torch._utils._rebuild_parameter_with_state"),
        TORCH_SIZE("torch.Size"),
        CODECS_ENCODE("_codecs.encode");

        final String qualifiedName;

        Function(String qualifiedName) {
            this.qualifiedName = qualifiedName;
        }

        static Function of(String qualifiedName) {
            for (Function f : values()) {
                if (f.qualifiedName.equals(qualifiedName)) {
                    return f;
                }
            }
            return null;
        }
    }

    /** Every opcode of protocols 0 to 5 ({@code Lib/pickle.py}), so that errors can name them. */
    private enum Op {
        MARK('('), STOP('.'), POP('0'), POP_MARK('1'), DUP('2'), FLOAT('F'), INT('I'), BININT('J'), BININT1('K'),
        LONG('L'), BININT2('M'), NONE('N'), PERSID('P'), BINPERSID('Q'), REDUCE('R'), STRING('S'), BINSTRING('T'),
        SHORT_BINSTRING('U'), UNICODE('V'), BINUNICODE('X'), APPEND('a'), BUILD('b'), GLOBAL('c'), DICT('d'),
        EMPTY_DICT('}'), APPENDS('e'), GET('g'), BINGET('h'), INST('i'), LONG_BINGET('j'), LIST('l'),
        EMPTY_LIST(']'), OBJ('o'), PUT('p'), BINPUT('q'), LONG_BINPUT('r'), SETITEM('s'), TUPLE('t'),
        EMPTY_TUPLE(')'), SETITEMS('u'), BINFLOAT('G'),
        PROTO(0x80), NEWOBJ(0x81), EXT1(0x82), EXT2(0x83), EXT4(0x84), TUPLE1(0x85), TUPLE2(0x86), TUPLE3(0x87),
        NEWTRUE(0x88), NEWFALSE(0x89), LONG1(0x8a), LONG4(0x8b),
        BINBYTES('B'), SHORT_BINBYTES('C'),
        SHORT_BINUNICODE(0x8c), BINUNICODE8(0x8d), BINBYTES8(0x8e), EMPTY_SET(0x8f), ADDITEMS(0x90),
        FROZENSET(0x91), NEWOBJ_EX(0x92), STACK_GLOBAL(0x93), MEMOIZE(0x94), FRAME(0x95),
        BYTEARRAY8(0x96), NEXT_BUFFER(0x97), READONLY_BUFFER(0x98);

        private static final Op[] BY_CODE = new Op[256];

        static {
            for (Op op : values()) {
                BY_CODE[op.code] = op;
            }
        }

        final int code;

        Op(int code) {
            this.code = code;
        }

        static Op of(int code) {
            return BY_CODE[code];
        }
    }

    private final byte[] in;
    private final String source;
    private final Set<String> allowedClasses;
    private final List<Object> stack = new ArrayList<>();
    /** Stack sizes at each open MARK; the items above the innermost one belong to it. */
    private final Deque<Integer> marks = new ArrayDeque<>();
    private final Map<Long, Object> memo = new HashMap<>();
    /** The dicts made by OrderedDict(): the only objects BUILD may set attributes on. */
    private final Set<Object> orderedDicts = Collections.newSetFromMap(new IdentityHashMap<>());
    private int pos;
    private int opStart;
    private Op op;

    private TorchPickle(byte[] in, String source, Set<String> allowedClasses) {
        this.in = in;
        this.source = source;
        this.allowedClasses = checkAllowedClasses(allowedClasses);
    }

    /**
     * Interprets one pickle that must hold exactly one object.
     *
     * @param source names the file in messages
     * @throws TensorFileException "&lt;source&gt;: refuses to load: ..." for a global or call outside the
     *     allow-list, naming it, and "&lt;source&gt;: cannot read the pickle: ..." for a damaged or unsupported pickle
     */
    public static Object load(byte[] pickle, String source) {
        return load(pickle, source, Set.of());
    }

    /**
     * Interprets one pickle that must hold exactly one object, in which the given classes may also be
     * instantiated, as inert {@link PythonObject}s (see the class comment).
     *
     * @param allowedClasses qualified names such as {@code argparse.Namespace}
     * @throws IllegalArgumentException if a name is not {@code module.Class} or lies in a module that runs code
     * @throws TensorFileException as {@link #load(byte[], String)}
     */
    public static Object load(byte[] pickle, String source, Set<String> allowedClasses) {
        return new TorchPickle(pickle, source, allowedClasses).run();
    }

    /**
     * The names, checked before anything is read: each must be a qualified class name outside the modules that
     * run code (allowing {@code os.system} would be a mistake even though nothing is ever called).
     *
     * @throws IllegalArgumentException naming the first name that cannot be allowed
     */
    static Set<String> checkAllowedClasses(Set<String> names) {
        for (String name : names) {
            String reason = whyNotAllowable(name);
            if (reason != null) {
                throw new IllegalArgumentException("cannot allow " + name + ": " + reason);
            }
        }
        return Set.copyOf(names);
    }

    /** Why a global cannot be allowed, or null if it can. */
    private static String whyNotAllowable(String qualifiedName) {
        if (qualifiedName == null || !CLASS_NAME.matcher(qualifiedName).matches()) {
            return "not a name of the form module.Class";
        }
        String module = qualifiedName.substring(0, qualifiedName.indexOf('.'));
        return CODE_MODULES.contains(module) ? "the module " + module + " runs code" : null;
    }

    /** The Python type of an object {@link #load} returns, for messages. */
    public static String typeName(Object o) {
        if (o == null) {
            return "None";
        } else if (o instanceof Boolean) {
            return "bool";
        } else if (o instanceof Long || o instanceof BigInteger) {
            return "int";
        } else if (o instanceof Double) {
            return "float";
        } else if (o instanceof String) {
            return "str";
        } else if (o instanceof byte[]) {
            return "bytes";
        } else if (o instanceof ArrayList) {
            return "list";
        } else if (o instanceof List) {
            return "tuple";
        } else if (o instanceof Map) {
            return "dict";
        } else if (o instanceof TensorRef) {
            return "tensor";
        } else if (o instanceof StorageRef) {
            return "storage";
        } else if (o instanceof Dtype d) {
            return d.storageClass();
        } else if (o instanceof Function f) {
            return f.qualifiedName;
        } else if (o instanceof PythonObject p) {
            return p.className();
        } else if (o instanceof AllowedClass c) {
            return "class " + c.qualifiedName();
        }
        return o.getClass().getName();
    }

    private Object run() {
        while (true) {
            opStart = pos;
            int code = u8();
            op = Op.of(code);
            if (op == null) {
                throw unreadable(String.format("unknown opcode 0x%02x (not a pickle, or damaged)", code));
            }
            switch (op) {
                case PROTO -> {
                    int protocol = u8();
                    if (protocol > MAX_PROTOCOL) {
                        throw unreadable("protocol " + protocol + " is newer than " + MAX_PROTOCOL);
                    }
                }
                case FRAME -> le64(); // protocol 4 framing: the frame's opcodes simply follow
                case STOP -> {
                    return stop();
                }
                case MARK -> marks.push(stack.size());
                case POP -> {
                    if (stack.size() > floor()) {
                        pop();
                    } else {
                        popMark();
                    }
                }
                case POP_MARK -> popMark();
                case DUP -> push(top());
                case NONE -> push(null);
                case NEWTRUE -> push(Boolean.TRUE);
                case NEWFALSE -> push(Boolean.FALSE);
                case BININT -> push((long) le32());
                case BININT1 -> push((long) u8());
                case BININT2 -> push((long) (u8() | u8() << 8));
                case LONG1 -> push(integer(read(u8())));
                case LONG4 -> push(integer(read(length(le32()))));
                case BINFLOAT -> push(ByteBuffer.wrap(read(8)).getDouble()); // big-endian, unlike everything else
                case SHORT_BINUNICODE -> push(utf8(read(u8())));
                case BINUNICODE -> push(utf8(read(length(le32()))));
                case BINUNICODE8 -> push(utf8(read(length(le64()))));
                case SHORT_BINSTRING -> push(utf8(read(u8()))); // a Python 2 str; torch.load decodes it as UTF-8
                case BINSTRING -> push(utf8(read(length(le32()))));
                case SHORT_BINBYTES -> push(read(u8()));
                case BINBYTES -> push(read(length(le32())));
                case BINBYTES8, BYTEARRAY8 -> push(read(length(le64())));
                case EMPTY_TUPLE -> push(tuple(List.of()));
                case TUPLE1 -> push(tuple(popN(1)));
                case TUPLE2 -> push(tuple(popN(2)));
                case TUPLE3 -> push(tuple(popN(3)));
                case TUPLE -> push(tuple(popMark()));
                case EMPTY_LIST -> push(new ArrayList<>());
                case APPEND -> list(top(1)).add(pop());
                case APPENDS -> {
                    List<Object> items = popMark();
                    list(top()).addAll(items);
                }
                case EMPTY_DICT -> push(new LinkedHashMap<>());
                case SETITEM -> {
                    Object value = pop();
                    Object key = pop();
                    dict(top()).put(hashable(key), value);
                }
                case SETITEMS -> setItems(popMark());
                case BINPUT -> memo.put((long) u8(), top());
                case LONG_BINPUT -> memo.put(le32() & 0xffffffffL, top());
                case MEMOIZE -> memo.put((long) memo.size(), top());
                case BINGET -> push(memoGet(u8()));
                case LONG_BINGET -> push(memoGet(le32() & 0xffffffffL));
                case GLOBAL -> push(global(line(), line()));
                case STACK_GLOBAL -> {
                    List<Object> names = popN(2);
                    if (!(names.get(0) instanceof String module) || !(names.get(1) instanceof String name)) {
                        throw unreadable("module and name are " + typeName(names.get(0)) + " and "
                                + typeName(names.get(1)) + ", not strings");
                    }
                    push(global(module, name));
                }
                case BINPERSID -> push(storage(pop()));
                case REDUCE -> {
                    Object args = pop();
                    Object callable = pop();
                    push(callable instanceof AllowedClass c ? instantiate(c, args) : call(callable, args));
                }
                case NEWOBJ -> {
                    Object args = pop();
                    push(instantiate(newobjClass(pop()), args));
                }
                case NEWOBJ_EX -> {
                    List<Object> clsArgsKwargs = popN(3);
                    if (!(clsArgsKwargs.get(2) instanceof Map<?, ?> kwargs) || !kwargs.isEmpty()) {
                        throw unreadable("keyword arguments to __new__ (" + typeName(clsArgsKwargs.get(2))
                                + ") are not supported");
                    }
                    push(instantiate(newobjClass(clsArgsKwargs.get(0)), clsArgsKwargs.get(1)));
                }
                case BUILD -> build(pop(), top());
                default -> throw unsupported();
            }
        }
    }

    private Object stop() {
        if (!marks.isEmpty() || stack.size() != 1) {
            throw unreadable("it ends with " + stack.size() + " objects and " + marks.size()
                    + " open MARKs instead of one object");
        }
        if (pos != in.length) {
            throw unreadable((in.length - pos) + " bytes follow the end of the pickle");
        }
        refuseKeptClasses(stack.get(0));
        return stack.get(0);
    }

    /**
     * Refuses an allowed class kept as a value anywhere in the result: allowing a class admits its instances,
     * not the class (which the result has no type for).
     */
    private void refuseKeptClasses(Object root) {
        List<Object> todo = new ArrayList<>();
        todo.add(root);
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        while (!todo.isEmpty()) {
            Object o = todo.remove(todo.size() - 1);
            if (o instanceof AllowedClass c) {
                throw refuse("the pickle keeps the class " + c.qualifiedName() + " as a value (an allowed class may "
                        + "only be instantiated)");
            }
            if (o == null || !seen.add(o)) {
                continue;
            }
            if (o instanceof List<?> items) {
                todo.addAll(items);
            } else if (o instanceof Map<?, ?> dict) {
                todo.addAll(dict.keySet());
                todo.addAll(dict.values());
            } else if (o instanceof PythonObject p) {
                todo.addAll(p.args());
                todo.addAll(p.state().values());
            }
        }
    }

    /** The opcodes a weights-only pickle has no use for, refused or reported as unsupported. */
    private TensorFileException unsupported() {
        return switch (op) {
            case INST -> {
                global(line(), line()); // names its class inline: refuse it by name if it is not allowed
                yield refuse("the pickle creates an object with INST");
            }
            case OBJ -> refuse("the pickle creates an object with OBJ");
            case EXT1, EXT2, EXT4 -> refuse("the pickle names a global through the extension registry (" + op + ")");
            case EMPTY_SET, ADDITEMS, FROZENSET -> unreadable("sets are not supported");
            case NEXT_BUFFER, READONLY_BUFFER -> unreadable("out-of-band buffers are not supported");
            default -> unreadable("the protocol 0 text opcode " + op + " is not supported (torch.save writes protocol 2)");
        };
    }

    /** GLOBAL and STACK_GLOBAL: an allowed name becomes a marker object, any other is refused at once. */
    private Object global(String module, String name) {
        String qualified = module + "." + name;
        Function f = Function.of(qualified);
        if (f != null) {
            return f;
        }
        Dtype d = Dtype.ofStorageClass(qualified);
        if (d != null) {
            return d;
        }
        if (allowedClasses.contains(qualified)) {
            return new AllowedClass(qualified);
        }
        String hint = whyNotAllowable(qualified) != null ? ""
                : "; to read it as inert data, allow it: --allow-global " + qualified;
        throw refuse("the pickle calls " + qualified, hint);
    }

    /** The class NEWOBJ and NEWOBJ_EX create an instance of: only an allowed one. */
    private AllowedClass newobjClass(Object cls) {
        if (!(cls instanceof AllowedClass c)) {
            throw refuse("the pickle creates an object with " + op);
        }
        return c;
    }

    /**
     * NEWOBJ, NEWOBJ_EX or REDUCE of an allowed class: in Python {@code cls.__new__(cls, *args)} (or
     * {@code cls(*args)}); here an instance holding the arguments and no attributes yet, with nothing called.
     */
    private PythonObject instantiate(AllowedClass cls, Object argTuple) {
        if (!isTuple(argTuple)) {
            throw refuse("the pickle creates " + cls.qualifiedName() + " from " + typeName(argTuple)
                    + " arguments instead of a tuple");
        }
        @SuppressWarnings("unchecked")
        List<Object> args = (List<Object>) argTuple;
        return new PythonObject(cls.qualifiedName(), args, new LinkedHashMap<>());
    }

    /** BINPERSID: the only persistent ids allowed are storages, as in torch.serialization's persistent_load. */
    private StorageRef storage(Object pid) {
        if (!isTuple(pid) || ((List<?>) pid).size() != 5 || !"storage".equals(text(((List<?>) pid).get(0)))) {
            throw refuse("the pickle loads a persistent id that is not a storage: " + typeName(pid));
        }
        List<?> id = (List<?>) pid;
        if (!(id.get(1) instanceof Dtype dtype)) {
            throw refuse("the pickle loads a storage of type " + typeName(id.get(1)));
        }
        String key = string(id.get(2), "storage key");
        String location = string(id.get(3), "storage location");
        long numel = longValue(id.get(4), "storage size");
        try {
            return new StorageRef(dtype, key, location, numel);
        } catch (IllegalArgumentException e) {
            throw unreadable(e.getMessage());
        }
    }

    /** REDUCE: calls an allowed function with the argument tuple. */
    private Object call(Object callable, Object argTuple) {
        if (!(callable instanceof Function f)) {
            throw refuse("the pickle calls an object of type " + typeName(callable));
        }
        if (!isTuple(argTuple)) {
            throw unreadable("the arguments of " + f.qualifiedName + " have type " + typeName(argTuple) + ", not tuple");
        }
        List<?> args = (List<?>) argTuple;
        return switch (f) {
            case ORDERED_DICT -> {
                arity(f, args, 0, 0);
                Map<Object, Object> dict = new LinkedHashMap<>();
                orderedDicts.add(dict);
                yield dict;
            }
            case REBUILD_TENSOR -> {
                arity(f, args, 4, 4);
                yield tensor(f, args);
            }
            case REBUILD_TENSOR_V2 -> {
                arity(f, args, 6, 7); // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
                argument(f, args, 4, Boolean.class);
                argument(f, args, 5, Map.class);
                if (args.size() == 7 && !argument(f, args, 6, Map.class).isEmpty()) {
                    throw unreadable("tensor metadata " + ((Map<?, ?>) args.get(6)).keySet()
                            + " (such as a conjugate or negative bit) is not supported");
                }
                yield tensor(f, args);
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                // (data, requires_grad, backward_hooks[, state]): a parameter is its tensor, its state attributes are dropped
                int n = f == Function.REBUILD_PARAMETER ? 3 : 4;
                arity(f, args, n, n);
                argument(f, args, 1, Boolean.class);
                argument(f, args, 2, Map.class);
                yield argument(f, args, 0, TensorRef.class);
            }
            case TORCH_SIZE -> {
                arity(f, args, 1, 1);
                yield tuple(longs(args.get(0), "torch.Size"));
            }
            case CODECS_ENCODE -> {
                // Protocol 2 pickles bytes as _codecs.encode('\x00\x01\xff', 'latin1').
                arity(f, args, 2, 2);
                String text = argument(f, args, 0, String.class);
                if (!"latin1".equals(args.get(1)) || text.chars().anyMatch(c -> c > 0xff)) {
                    throw unreadable("_codecs.encode is only allowed to make bytes, from latin1 text");
                }
                yield text.getBytes(StandardCharsets.ISO_8859_1);
            }
        };
    }

    /** The first four arguments of the tensor rebuild functions: storage, offset, size, stride. */
    private TensorRef tensor(Function f, List<?> args) {
        StorageRef storage = argument(f, args, 0, StorageRef.class);
        long offset = longValue(args.get(1), "storage offset");
        long[] shape = longs(args.get(2), "size").stream().mapToLong(Long::longValue).toArray();
        long[] stride = longs(args.get(3), "stride").stream().mapToLong(Long::longValue).toArray();
        try {
            return new TensorRef(storage, offset, shape, stride);
        } catch (IllegalArgumentException e) {
            throw unreadable(e.getMessage());
        }
    }

    /**
     * BUILD: sets the attributes of an instance of an allowed class from a dict, as Python does for a class
     * without {@code __setstate__}, or of an OrderedDict (a state dict's {@code _metadata}), where they are
     * dropped. Any other state, such as the (dict, slots) pair or a {@code __setstate__} argument, is refused.
     */
    private void build(Object state, Object instance) {
        if (!(state instanceof Map<?, ?> attributes)
                || !(instance instanceof PythonObject || orderedDicts.contains(instance))) {
            throw refuse("the pickle sets the state of an object of type " + typeName(instance) + " with BUILD"
                    + (instance instanceof PythonObject ? " from a " + typeName(state) + ", not a dict" : ""));
        }
        if (instance instanceof PythonObject p) {
            attributes.forEach((name, value) -> p.state().put(string(name, "attribute name"), value));
        }
    }

    private void setItems(List<Object> items) {
        if (items.size() % 2 != 0) {
            throw unreadable("an odd number of keys and values");
        }
        Map<Object, Object> dict = dict(top());
        for (int i = 0; i < items.size(); i += 2) {
            dict.put(hashable(items.get(i)), items.get(i + 1));
        }
    }

    private static boolean isTuple(Object o) {
        return o instanceof List && !(o instanceof ArrayList);
    }

    /** A tuple: an unmodifiable list (which, unlike List.of, may hold None). */
    private static List<Object> tuple(List<?> items) {
        return Collections.unmodifiableList(new ArrayList<>(items));
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) {
        if (!(o instanceof ArrayList)) {
            throw unreadable("cannot append to an object of type " + typeName(o));
        }
        return (List<Object>) o;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) {
        if (!(o instanceof LinkedHashMap)) {
            throw unreadable("cannot set an item of an object of type " + typeName(o));
        }
        return (Map<Object, Object>) o;
    }

    /** Python only allows immutable dict keys; a list or dict key would also make Java hashing unsafe. */
    private Object hashable(Object key) {
        if (key instanceof ArrayList || key instanceof Map || key instanceof PythonObject) {
            throw unreadable("an object of type " + typeName(key) + " cannot be a dict key");
        }
        if (isTuple(key)) {
            ((List<?>) key).forEach(this::hashable);
        }
        return key;
    }

    private void arity(Function f, List<?> args, int min, int max) {
        if (args.size() < min || args.size() > max) {
            throw unreadable(f.qualifiedName + " takes " + (min == max ? min : min + " or " + max) + " arguments, got "
                    + args.size());
        }
    }

    private <T> T argument(Function f, List<?> args, int i, Class<T> type) {
        Object a = args.get(i);
        if (!type.isInstance(a)) {
            throw unreadable("argument " + (i + 1) + " of " + f.qualifiedName + " has type " + typeName(a));
        }
        return type.cast(a);
    }

    private List<Long> longs(Object tuple, String what) {
        if (!(tuple instanceof List<?> items)) {
            throw unreadable(what + " has type " + typeName(tuple) + ", not a tuple of ints");
        }
        List<Long> out = new ArrayList<>();
        items.forEach(x -> out.add(longValue(x, what)));
        return out;
    }

    private long longValue(Object o, String what) {
        if (!(o instanceof Long l)) {
            throw unreadable(what + " has type " + typeName(o) + ", not an int that fits 64 bits");
        }
        return l;
    }

    private String string(Object o, String what) {
        if (!(o instanceof String s)) {
            throw unreadable(what + " has type " + typeName(o) + ", not str");
        }
        return s;
    }

    /** A str, or bytes holding ASCII (torch.serialization accepts both for the persistent id's tag). */
    private static String text(Object o) {
        return o instanceof byte[] b ? new String(b, StandardCharsets.US_ASCII) : o instanceof String s ? s : null;
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) {
            throw unreadable("memo entry " + index + " was never stored");
        }
        return memo.get(index);
    }

    /** LONG1/LONG4: a little-endian two's complement integer; a Long when it fits, as Python ints usually do. */
    private static Object integer(byte[] le) {
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger v = le.length == 0 ? BigInteger.ZERO : new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private void push(Object o) {
        stack.add(o);
    }

    /** The stack's lowest index that the current MARK frame may touch. */
    private int floor() {
        return marks.isEmpty() ? 0 : marks.peek();
    }

    private Object pop() {
        if (stack.size() <= floor()) {
            throw unreadable("stack underflow");
        }
        return stack.remove(stack.size() - 1);
    }

    private Object top() {
        return top(0);
    }

    /** The object {@code depth} places below the top. */
    private Object top(int depth) {
        if (stack.size() - depth <= floor()) {
            throw unreadable("stack underflow");
        }
        return stack.get(stack.size() - 1 - depth);
    }

    private List<Object> popN(int n) {
        if (stack.size() - n < floor()) {
            throw unreadable("stack underflow");
        }
        List<Object> top = stack.subList(stack.size() - n, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    /** The objects pushed since the last MARK, which is closed. */
    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw unreadable("no MARK to pop to");
        }
        int mark = marks.pop();
        List<Object> top = stack.subList(mark, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    private int u8() {
        need(1);
        return in[pos++] & 0xff;
    }

    private int le32() {
        return ByteBuffer.wrap(read(4)).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    private long le64() {
        return ByteBuffer.wrap(read(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** A length field as a count of bytes that can follow, refusing negative or huge ones before allocating. */
    private int length(long n) {
        if (n < 0 || n > in.length - pos) {
            throw unreadable("a length of " + n + " bytes, but " + (in.length - pos) + " remain (truncated?)");
        }
        return (int) n;
    }

    private byte[] read(int n) {
        need(n);
        byte[] b = Arrays.copyOfRange(in, pos, pos + n);
        pos += n;
        return b;
    }

    /** A newline-terminated line, as GLOBAL writes the module and the name. */
    private String line() {
        for (int i = pos; i < in.length; i++) {
            if (in[i] == '\n') {
                String s = utf8(Arrays.copyOfRange(in, pos, i));
                pos = i + 1;
                return s;
            }
        }
        throw unreadable("unexpected end inside a line (truncated?)");
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private void need(int n) {
        if (n > in.length - pos) {
            throw unreadable("unexpected end (truncated?)");
        }
    }

    private TensorFileException unreadable(String what) {
        return new TensorFileException(source + ": cannot read the pickle: " + what + " (" + (op == null ? "opcode" : op)
                + " at byte " + opStart + ")");
    }

    private TensorFileException refuse(String what) {
        return refuse(what, "");
    }

    private TensorFileException refuse(String what, String hint) {
        return new TensorFileException(source + ": refuses to load: " + what + " (" + ALLOWED + hint + ")");
    }
}
