package maetok4j.nn;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import maetok4j.tensor.TensorInfo;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Moves a {@link Module}'s tensors to and from safetensors files under their state-dict keys. Names and
 * shapes are checked against the file's header before any tensor is read.
 */
public final class StateDict {

    private StateDict() {}

    /** How strictly a file must match the model. */
    public enum Mode {
        /** Every key of the file is a key of the model and vice versa, with equal shapes. */
        STRICT,
        /**
         * Keys the model does not have are ignored and reported (training-only tensors such as a frozen
         * teacher or auxiliary decoders); missing buffers are recomputed. Missing parameters and wrong
         * shapes are errors.
         */
        LENIENT
    }

    /** Loads every tensor of {@code module} from {@code file} into arrays owned by {@code manager}; returns the ignored keys. */
    public static List<String> load(Module module, Safetensors file, NDManager manager, Mode mode) {
        Map<String, Parameter> expected = module.stateDict();
        Map<String, TensorInfo> found = file.tensors();
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> recomputed = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : expected.entrySet()) {
            TensorInfo t = found.get(e.getKey());
            if (t == null) {
                if (mode == Mode.LENIENT && e.getValue().isBuffer()) {
                    recomputed.add(e.getKey());
                } else {
                    missing.add(e.getKey());
                }
            } else if (!Arrays.equals(t.shape(), e.getValue().shape().getShape())) {
                mismatched.add(e.getKey() + " " + Arrays.toString(t.shape()) + " != expected " + e.getValue().shape());
            }
        }
        for (String k : found.keySet()) {
            if (!expected.containsKey(k)) {
                unexpected.add(k);
            }
        }
        List<String> problems = new ArrayList<>();
        if (!missing.isEmpty()) {
            problems.add("missing " + missing.size() + " key(s): " + summarize(missing));
        }
        if (!mismatched.isEmpty()) {
            problems.add("wrong shape: " + summarize(mismatched));
        }
        if (mode == Mode.STRICT && !unexpected.isEmpty()) {
            problems.add("unexpected " + unexpected.size() + " key(s): " + summarize(unexpected));
        }
        if (!problems.isEmpty()) {
            throw new TensorFileException(file.file() + ": does not match the model: " + String.join("; ", problems));
        }
        Map<String, NDArray> loaded = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Parameter> e : expected.entrySet()) {
                if (found.containsKey(e.getKey())) {
                    loaded.put(e.getKey(), file.readAs(e.getKey(), manager, DataType.FLOAT32));
                }
            }
        } catch (RuntimeException ex) {
            loaded.values().forEach(NDArray::close);
            throw ex;
        }
        for (Map.Entry<String, Parameter> e : expected.entrySet()) {
            Parameter p = e.getValue();
            if (loaded.containsKey(e.getKey())) {
                p.set(loaded.get(e.getKey()));
            } else { // a recomputable buffer
                float[] v = new float[Math.toIntExact(p.numel())];
                p.init().fill(v, p.shape().getShape(), new SplittableRandom(0));
                p.set(OwnedArrays.of(manager, v, p.shape()));
            }
        }
        return unexpected;
    }

    /** Writes every tensor of {@code module} (float32, state-dict order) atomically, with PyTorch's metadata. */
    public static void save(Module module, Path file) {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        module.stateDict().forEach((k, p) -> tensors.put(k, p.array()));
        Safetensors.write(file, tensors, Map.of("format", "pt"));
    }

    /** Names a long list by its first entries and a count. */
    public static String summarize(List<String> keys) {
        int shown = Math.min(keys.size(), 6);
        String head = String.join(", ", keys.subList(0, shown));
        return keys.size() > shown ? head + ", ... (" + (keys.size() - shown) + " more)" : head;
    }
}
