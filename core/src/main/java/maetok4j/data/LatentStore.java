package maetok4j.data;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A folder of encoded latents: shards {@code shard-00000.safetensors, ...} holding {@code latents} [n, ...]
 * float32 and, for labelled data, {@code labels} [n] int64, plus {@code store.json} (latent shape, count,
 * shards, metadata), written last: a store without it is incomplete. Rows are read on demand with
 * positional reads, so stores larger than memory work and reads are thread-safe.
 */
public final class LatentStore implements AutoCloseable {

    public static final String INDEX = "store.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final long[] latentShape;
    private final List<Safetensors> shards;
    private final int[] starts;
    private final int size;
    private final boolean labelled;
    private final Map<String, String> metadata;

    private LatentStore(Path dir, long[] latentShape, List<Safetensors> shards, int[] starts, int size, boolean labelled,
            Map<String, String> metadata) {
        this.dir = dir;
        this.latentShape = latentShape;
        this.shards = shards;
        this.starts = starts;
        this.size = size;
        this.labelled = labelled;
        this.metadata = metadata;
    }

    public static LatentStore open(Path dir) {
        Path index = dir.resolve(INDEX);
        if (!Files.isRegularFile(index)) {
            throw new TensorFileException(dir + ": not a complete latent store (no " + INDEX + ")");
        }
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new TensorFileException(index + ": not valid JSON: " + e.getMessage());
        }
        long[] shape = JSON.convertValue(root.path("latent_shape"), long[].class);
        List<String> names = JSON.convertValue(root.path("shards"), JSON.getTypeFactory().constructCollectionType(List.class, String.class));
        if (shape == null || names == null || names.isEmpty()) {
            throw new TensorFileException(index + ": needs 'latent_shape' and a non-empty 'shards' list");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        root.path("metadata").fields().forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
        List<Safetensors> shards = new ArrayList<>();
        int[] starts = new int[names.size() + 1];
        boolean labelled = root.path("labelled").asBoolean(false);
        try {
            for (int i = 0; i < names.size(); i++) {
                Safetensors s = Safetensors.open(dir.resolve(names.get(i)));
                shards.add(s);
                long[] ls = s.info("latents").shape();
                if (!s.info("latents").dtype().equals("F32") || !Arrays.equals(Arrays.copyOfRange(ls, 1, ls.length), shape)) {
                    throw new TensorFileException(s.file() + ": 'latents' " + s.info("latents") + " do not match the store's shape "
                            + Arrays.toString(shape));
                }
                if (labelled && (!s.contains("labels") || s.info("labels").shape()[0] != ls[0])) {
                    throw new TensorFileException(s.file() + ": a labelled store needs 'labels' [" + ls[0] + "]");
                }
                starts[i + 1] = starts[i] + Math.toIntExact(ls[0]);
            }
        } catch (RuntimeException e) {
            shards.forEach(Safetensors::close);
            throw e;
        }
        int count = root.path("count").asInt(-1);
        if (count != starts[names.size()]) {
            shards.forEach(Safetensors::close);
            throw new TensorFileException(index + ": count " + count + " but the shards hold " + starts[names.size()] + " rows");
        }
        return new LatentStore(dir, shape, shards, starts, count, labelled, metadata);
    }

    public int size() {
        return size;
    }

    public long[] latentShape() {
        return latentShape.clone();
    }

    public boolean labelled() {
        return labelled;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Row i's latent as floats (C order of the latent shape). */
    public float[] latent(int i) {
        int s = shard(i);
        ByteBuffer b = shards.get(s).rowBytes("latents", i - starts[s], 1);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    public long label(int i) {
        if (!labelled) {
            return -1;
        }
        int s = shard(i);
        return shards.get(s).rowBytes("labels", i - starts[s], 1).getLong();
    }

    /** Rows as a [n, ...] float32 tensor owned by {@code manager}. */
    public NDArray latents(int[] rows, NDManager manager) {
        int per = (int) Arrays.stream(latentShape).reduce(1, (x, y) -> x * y);
        float[] data = new float[rows.length * per];
        for (int k = 0; k < rows.length; k++) {
            System.arraycopy(latent(rows[k]), 0, data, k * per, per);
        }
        long[] shape = new long[latentShape.length + 1];
        shape[0] = rows.length;
        System.arraycopy(latentShape, 0, shape, 1, latentShape.length);
        return OwnedArrays.of(manager, data, new Shape(shape));
    }

    private int shard(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("row " + i + " of a store of " + size);
        }
        int s = Arrays.binarySearch(starts, i);
        return s >= 0 ? s : -s - 2;
    }

    @Override
    public void close() {
        shards.forEach(Safetensors::close);
    }

    /** Writes a store shard by shard; {@link #finish} writes the index that makes it complete. */
    public static final class Writer {

        private final Path dir;
        private final long[] latentShape;
        private final boolean labelled;
        private final List<String> shards = new ArrayList<>();
        private int count;

        public Writer(Path dir, long[] latentShape, boolean labelled) {
            this(dir, latentShape, labelled, 0);
        }

        /**
         * Continues a store whose first {@code existingShards} shards were written by an earlier, interrupted
         * writer; each is checked against the store's shape and labels. Shards are written atomically, so a
         * shard file that exists is whole.
         */
        public static Writer resume(Path dir, long[] latentShape, boolean labelled, int existingShards) {
            return new Writer(dir, latentShape, labelled, existingShards);
        }

        private Writer(Path dir, long[] latentShape, boolean labelled, int existingShards) {
            this.dir = dir;
            this.latentShape = latentShape.clone();
            this.labelled = labelled;
            try {
                Files.createDirectories(dir);
                Files.deleteIfExists(dir.resolve(INDEX));
            } catch (IOException e) {
                throw new TensorFileException(dir + ": cannot create: " + e.getMessage(), e);
            }
            for (int i = 0; i < existingShards; i++) {
                String name = shardName(i);
                try (Safetensors shard = Safetensors.open(dir.resolve(name))) {
                    long[] ls = shard.info("latents").shape();
                    if (!Arrays.equals(Arrays.copyOfRange(ls, 1, ls.length), latentShape) || labelled != shard.contains("labels")) {
                        throw new TensorFileException(shard.file() + ": 'latents' " + shard.info("latents")
                                + " do not continue a store of shape " + Arrays.toString(latentShape) + (labelled ? " with labels" : ""));
                    }
                    shards.add(name);
                    count += Math.toIntExact(ls[0]);
                }
            }
        }

        /** The number of shards written so far (including resumed ones). */
        public int shards() {
            return shards.size();
        }

        /** The number of rows written so far (including resumed ones). */
        public int count() {
            return count;
        }

        /** Writes one shard: latents [n, ...] float32, labels [n] int64 (or null for unlabelled stores). */
        public void append(NDArray latents, NDArray labels) {
            long[] s = latents.getShape().getShape();
            if (latents.getDataType() != DataType.FLOAT32 || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), latentShape)) {
                throw new IllegalArgumentException("latents " + latents.getShape() + " do not match the store's shape " + Arrays.toString(latentShape));
            }
            if (labelled != (labels != null)) {
                throw new IllegalArgumentException(labelled ? "this store needs labels" : "this store has no labels");
            }
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("latents", latents);
            if (labels != null) {
                t.put("labels", labels);
            }
            String name = shardName(shards.size());
            Safetensors.write(dir.resolve(name), t, Map.of("format", "pt"));
            shards.add(name);
            count += Math.toIntExact(s[0]);
        }

        /** The file name of shard i. */
        public static String shardName(int i) {
            return String.format("shard-%05d.safetensors", i);
        }

        public void finish(Map<String, String> metadata) {
            ObjectNode root = JSON.createObjectNode();
            var shape = root.putArray("latent_shape");
            Arrays.stream(latentShape).forEach(shape::add);
            root.put("count", count).put("labelled", labelled);
            var list = root.putArray("shards");
            shards.forEach(list::add);
            ObjectNode meta = root.putObject("metadata");
            metadata.forEach(meta::put);
            AtomicFiles.writeString(dir.resolve(INDEX), root.toPrettyString() + "\n");
        }
    }
}
