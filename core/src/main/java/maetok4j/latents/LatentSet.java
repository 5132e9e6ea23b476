package maetok4j.latents;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.data.LatentStore;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Latents loaded whole for analysis, from a latent store folder ({@code maetok cache-latents}) or a tensor file
 * with {@code latents} [n, ...] and optionally {@code labels} [n] int64 ({@code maetok encode}, saved samples).
 *
 * <p>Rows come in groups: a store cached with {@code --flip} holds each image followed by its mirror image, and
 * the two must land on the same side of a train/test split, or held-out scores would measure memory.
 */
public final class LatentSet implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String source;
    private final NDArray latents; // [n, ...latentShape]
    private final long[] labels;
    private final List<String> classes;
    private final int channelAxis;
    private final int groupSize;

    private LatentSet(String source, NDArray latents, long[] labels, List<String> classes, int channelAxis, int groupSize) {
        this.source = source;
        this.latents = latents;
        this.labels = labels;
        this.classes = classes;
        this.channelAxis = channelAxis;
        this.groupSize = groupSize;
    }

    /** Loads a store folder or a {@code .safetensors} file; the arrays belong to a sub-manager of {@code manager}. */
    public static LatentSet load(Path path, NDManager manager) {
        NDManager own = manager.newSubManager();
        try {
            if (Files.isDirectory(path)) {
                return loadStore(path, own);
            }
            if (!Files.isRegularFile(path)) {
                throw new TensorFileException(path + ": no such latent store or tensor file");
            }
            return loadFile(path, own);
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    private static LatentSet loadStore(Path dir, NDManager own) {
        try (LatentStore store = LatentStore.open(dir)) {
            int n = store.size();
            int[] rows = new int[n];
            Arrays.setAll(rows, i -> i);
            NDArray x = store.latents(rows, own);
            long[] labels = null;
            if (store.labelled()) {
                labels = new long[n];
                for (int i = 0; i < n; i++) {
                    labels[i] = store.label(i);
                }
            }
            var meta = store.metadata();
            List<String> classes = List.of();
            if (meta.containsKey("classes")) {
                try {
                    classes = List.of(JSON.readValue(meta.get("classes"), String[].class));
                } catch (IOException e) {
                    throw new TensorFileException(dir.resolve(LatentStore.INDEX) + ": metadata 'classes' is not a JSON list of names");
                }
            }
            long[] shape = store.latentShape();
            int axis = meta.containsKey("channel_axis") ? Integer.parseInt(meta.get("channel_axis")) : defaultChannelAxis(shape);
            int group = "true".equals(meta.get("flip")) ? 2 : 1;
            if (n % group != 0) {
                throw new TensorFileException(dir + ": a store cached with flips must hold an even number of rows, got " + n);
            }
            return new LatentSet(dir.toString(), x, labels, classes, axis, group);
        }
    }

    private static LatentSet loadFile(Path file, NDManager own) {
        try (Safetensors st = Safetensors.open(file)) {
            if (!st.contains("latents")) {
                throw new TensorFileException(file + ": no 'latents' tensor (keys: " + st.tensors().keySet() + ")");
            }
            long[] s = st.info("latents").shape();
            if (s.length < 2 || s[0] == 0) {
                throw new TensorFileException(file + ": 'latents' must be [n, ...] with n > 0, got " + st.info("latents"));
            }
            NDArray x = st.readAs("latents", own, DataType.FLOAT32);
            long[] labels = null;
            if (st.contains("labels")) {
                var info = st.info("labels");
                if (info.shape().length != 1 || info.shape()[0] != s[0]) {
                    throw new TensorFileException(file + ": 'labels' " + info + " must be [" + s[0] + "]");
                }
                try (NDArray l = st.readAs("labels", own, DataType.INT64)) {
                    labels = l.toLongArray();
                }
            }
            long[] shape = Arrays.copyOfRange(s, 1, s.length);
            return new LatentSet(file.toString(), x, labels, List.of(), defaultChannelAxis(shape), 1);
        }
    }

    /** Token latents [L, H] keep channels last (MAETok); spatial ones [C, h, w] first (VMAE). */
    static int defaultChannelAxis(long[] latentShape) {
        return latentShape.length == 3 ? 0 : latentShape.length - 1;
    }

    public String source() {
        return source;
    }

    public int size() {
        return (int) latents.getShape().get(0);
    }

    public long[] latentShape() {
        long[] s = latents.getShape().getShape();
        return Arrays.copyOfRange(s, 1, s.length);
    }

    /** The latents [n, ...latentShape] as float32. */
    public NDArray latents() {
        return latents;
    }

    public boolean labelled() {
        return labels != null;
    }

    /** Labels per row, or null without labels. */
    public long[] labels() {
        return labels == null ? null : labels.clone();
    }

    /** Class names by label when the store recorded them, else empty. */
    public List<String> classes() {
        return classes;
    }

    /** The number of classes: the recorded names, else the largest label plus one. */
    public int classCount() {
        if (labels == null) {
            return 0;
        }
        long max = Arrays.stream(labels).max().orElse(-1);
        return Math.max(classes.size(), (int) max + 1);
    }

    public int channelAxis() {
        return channelAxis;
    }

    /** Rows per group: 2 for a store cached with flips (image, mirror), else 1. */
    public int groupSize() {
        return groupSize;
    }

    /** Each row's latent as one vector: [n, D]. The result belongs to {@code manager}. */
    public NDArray flattened(NDManager manager) {
        NDArray f = latents.reshape(size(), -1);
        f.attach(manager);
        return f;
    }

    /** Each row's latent averaged over every axis but the channels: [n, C]. The result belongs to {@code manager}. */
    public NDArray pooled(NDManager manager) {
        long[] shape = latentShape();
        long channels = shape[channelAxis];
        // channels to the front of the latent, the rest flattened behind them, then one mean over that axis
        int[] order = new int[shape.length + 1];
        order[0] = 0;
        order[1] = channelAxis + 1;
        for (int a = 0, k = 2; a < shape.length; a++) {
            if (a != channelAxis) {
                order[k++] = a + 1;
            }
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray grouped = latents.transpose(order).reshape(size(), channels, -1); // [n, C, rest]
            grouped.attach(tmp);
            NDArray p = grouped.mean(new int[] {2}); // [n, C]
            p.attach(manager);
            return p;
        }
    }

    /**
     * A seeded split into train and test row indices, whole groups at a time: about {@code testFraction} of the
     * groups (at least one, and one fewer than all) go to the test side.
     */
    public int[][] split(double testFraction, long seed) {
        if (!(testFraction > 0 && testFraction < 1)) {
            throw new IllegalArgumentException("test fraction must be in (0, 1), got " + testFraction);
        }
        int groups = size() / groupSize;
        if (groups < 2) {
            throw new IllegalArgumentException(source + ": " + size() + " row(s) cannot be split into train and test");
        }
        int[] order = new int[groups];
        Arrays.setAll(order, i -> i);
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = groups - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int test = Math.min(groups - 1, Math.max(1, (int) Math.round(groups * testFraction)));
        List<Integer> testRows = new ArrayList<>();
        List<Integer> trainRows = new ArrayList<>();
        for (int k = 0; k < groups; k++) {
            List<Integer> side = k < test ? testRows : trainRows;
            for (int r = 0; r < groupSize; r++) {
                side.add(order[k] * groupSize + r);
            }
        }
        return new int[][] {sorted(trainRows), sorted(testRows)};
    }

    private static int[] sorted(List<Integer> rows) {
        return rows.stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    /** Rows of a [n, ...] array by index; the result belongs to {@code manager}. */
    public static NDArray rows(NDArray x, int[] rows, NDManager manager) {
        long[] idx = Arrays.stream(rows).asLongStream().toArray();
        try (NDArray index = OwnedArrays.of(manager, idx, new Shape(idx.length))) {
            NDArray out = x.get(index);
            out.attach(manager);
            return out;
        }
    }

    /** Labels of the given rows. */
    public long[] labels(int[] rows) {
        long[] out = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = labels[rows[i]];
        }
        return out;
    }

    @Override
    public void close() {
        latents.getManager().close();
    }
}
