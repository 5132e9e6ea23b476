package maetok4j.latents;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.Dataset;
import maetok4j.data.ImageTensors;
import maetok4j.data.LatentStore;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import maetok4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.stream.Stream;

/**
 * Encodes a dataset into a {@link LatentStore}, shard by shard, as the reference's {@code cache_latent.py} does
 * (eval-mode encode of the evaluation crop, optionally each image followed by its horizontal flip).
 *
 * <p>Resumable: {@code cache.json}, written first, records what is being cached; shards are written atomically,
 * so after an interruption the same call continues after the last whole shard. The store's index is written
 * last, with {@code stats.json} (scalar and per-channel mean/std over every cached latent) beside it.
 */
public final class LatentCache {

    public static final String MANIFEST = "cache.json";
    public static final String STATS = "stats.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param batchSize images encoded at once
     * @param shardSize images per shard (a shard holds twice as many latents with flips)
     * @param flip also cache each image's horizontal mirror, right after it
     */
    public record Options(int batchSize, int shardSize, boolean flip) {
        public Options {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
            }
            if (shardSize < 1) {
                throw new IllegalArgumentException("shard size must be positive, got " + shardSize);
            }
        }
    }

    /**
     * @param images dataset images cached
     * @param latents rows in the store (twice the images with flips)
     * @param resumedShards shards found whole from an earlier run
     * @param seconds time spent encoding in this call
     */
    public record Result(Path store, int images, int latents, int shards, int resumedShards, LatentStatistics.Summary stats,
            double seconds, boolean alreadyComplete) {}

    private LatentCache() {}

    /**
     * Caches {@code data} through {@code tokenizer} into {@code dir}; {@code model} and {@code source} name them
     * in the manifest, so a resumed call must name the same ones. {@code onImages} hears of every image encoded.
     *
     * @throws IllegalArgumentException when {@code dir} holds something else: another cache, or files that are not one
     */
    public static Result run(Tokenizer tokenizer, String model, Dataset data, String source, Path dir, Options options,
            IntConsumer onImages) {
        int n = data.size();
        if (n == 0) {
            throw new IllegalArgumentException(source + ": no images to cache");
        }
        boolean labelled = !data.classes().isEmpty();
        long[] shape = tokenizer.latentShape();
        ObjectNode manifest = manifest(tokenizer, model, data, source, options);
        int resumed = prepare(dir, manifest);
        int shards = (n + options.shardSize() - 1) / options.shardSize();
        if (resumed < 0) {
            LatentStatistics.Summary stats = readStats(dir.resolve(STATS));
            return new Result(dir, n, (int) stats.count(), shards, shards, stats, 0, true);
        }
        long start = System.nanoTime();
        LatentStore.Writer writer = LatentStore.Writer.resume(dir, shape, labelled, resumed);
        onImages.accept(Math.min(n, resumed * options.shardSize()));
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int s = resumed; s < shards; s++) {
                int first = s * options.shardSize();
                int count = Math.min(options.shardSize(), n - first);
                try (NDManager scope = manager.newSubManager()) {
                    NDArray latents = encodeShard(tokenizer, data, first, count, options, scope, onImages);
                    writer.append(latents, labelled ? labels(data, first, count, options.flip(), scope) : null);
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        LatentStatistics stats = new LatentStatistics(shape, tokenizer.latentChannelAxis());
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int s = 0; s < shards; s++) {
                try (NDManager scope = manager.newSubManager(); Safetensors shard = Safetensors.open(dir.resolve(LatentStore.Writer.shardName(s)))) {
                    stats.add(shard.read("latents", scope));
                }
            }
        }
        LatentStatistics.Summary summary = stats.summary();
        AtomicFiles.writeString(dir.resolve(STATS), summary.toJson(JSON.createObjectNode()).toPrettyString() + "\n");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("model", model);
        meta.put("source", source);
        meta.put("flip", Boolean.toString(options.flip()));
        meta.put("channel_axis", Integer.toString(tokenizer.latentChannelAxis()));
        meta.put("image_size", Integer.toString(tokenizer.imageSize()));
        if (labelled) {
            meta.put("classes", JSON.valueToTree(data.classes()).toString());
        }
        writer.finish(meta);
        return new Result(dir, n, writer.count(), shards, resumed, summary, seconds, false);
    }

    /** Images [first, first+count) encoded, each followed by its flip when asked: [count·(1|2), ...latent]. */
    private static NDArray encodeShard(Tokenizer tokenizer, Dataset data, int first, int count, Options options, NDManager scope,
            IntConsumer onImages) {
        long[] shape = tokenizer.latentShape();
        int per = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        int copies = options.flip() ? 2 : 1;
        float[] out = new float[count * copies * per];
        for (int b = 0; b < count; b += options.batchSize()) {
            int m = Math.min(options.batchSize(), count - b);
            try (NDManager batch = scope.newSubManager()) {
                int[] rows = new int[m];
                for (int i = 0; i < m; i++) {
                    rows[i] = first + b + i;
                }
                NDArray images = ImageTensors.load(data, rows, tokenizer.imageSize(), batch); // [m, 3, S, S]
                float[] z = tokenizer.encode(images).toFloatArray();
                float[] zf = options.flip() ? tokenizer.encode(images.flip(3)).toFloatArray() : null;
                for (int i = 0; i < m; i++) {
                    System.arraycopy(z, i * per, out, ((b + i) * copies) * per, per);
                    if (zf != null) {
                        System.arraycopy(zf, i * per, out, ((b + i) * copies + 1) * per, per);
                    }
                }
            }
            onImages.accept(m);
        }
        long[] full = new long[shape.length + 1];
        full[0] = (long) count * copies;
        System.arraycopy(shape, 0, full, 1, shape.length);
        return OwnedArrays.of(scope, out, new Shape(full)); // [count·copies, ...latent]
    }

    private static NDArray labels(Dataset data, int first, int count, boolean flip, NDManager scope) {
        int copies = flip ? 2 : 1;
        long[] labels = new long[count * copies];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = data.label(first + i / copies);
        }
        return OwnedArrays.of(scope, labels);
    }

    private static ObjectNode manifest(Tokenizer tokenizer, String model, Dataset data, String source, Options options) {
        ObjectNode m = JSON.createObjectNode();
        m.put("model", model).put("source", source).put("images", data.size()).put("flip", options.flip())
                .put("shard_size", options.shardSize()).put("image_size", tokenizer.imageSize());
        Arrays.stream(tokenizer.latentShape()).forEach(m.putArray("latent_shape")::add);
        return m;
    }

    /**
     * Readies {@code dir}: returns the number of whole shards to keep, or -1 when the store is already complete.
     * An empty or missing folder starts a new cache; a folder of this same cache resumes it; anything else is refused.
     */
    private static int prepare(Path dir, ObjectNode manifest) {
        Path file = dir.resolve(MANIFEST);
        if (Files.isRegularFile(file)) {
            JsonNode old;
            try {
                old = JSON.readTree(file.toFile());
            } catch (IOException e) {
                throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage());
            }
            var fields = manifest.fieldNames();
            while (fields.hasNext()) {
                String f = fields.next();
                if (!manifest.get(f).toString().equals(String.valueOf(old.get(f)))) {
                    throw new IllegalArgumentException(file + ": this folder caches " + f + " = " + old.get(f) + ", not " + manifest.get(f)
                            + "; use another --out");
                }
            }
            if (Files.isRegularFile(dir.resolve(LatentStore.INDEX)) && Files.isRegularFile(dir.resolve(STATS))) {
                return -1;
            }
            int whole = 0;
            while (Files.isRegularFile(dir.resolve(LatentStore.Writer.shardName(whole)))) {
                whole++;
            }
            return whole;
        }
        if (Files.exists(dir)) {
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException(dir + ": exists and is not a folder");
            }
            try (Stream<Path> entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException(dir + ": not empty and not a latent cache (no " + MANIFEST + "); use another --out");
                }
            } catch (IOException e) {
                throw new TensorFileException(dir + ": cannot list: " + e.getMessage(), e);
            }
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new TensorFileException(dir + ": cannot create: " + e.getMessage(), e);
        }
        AtomicFiles.writeString(file, manifest.toPrettyString() + "\n");
        return 0;
    }

    /** Reads a {@code stats.json} written by a cache run. */
    public static LatentStatistics.Summary readStats(Path file) {
        try {
            return LatentStatistics.Summary.fromJson(JSON.readTree(file.toFile()), file.toString());
        } catch (IOException e) {
            throw new TensorFileException(file + ": cannot read latent statistics: " + e.getMessage(), e);
        }
    }

    /** The statistics of a cache folder (its {@code stats.json}) or of a {@code stats.json} named directly. */
    public static LatentStatistics.Summary statsOf(Path fileOrStore) {
        Path f = Files.isDirectory(fileOrStore) ? fileOrStore.resolve(STATS) : fileOrStore;
        if (!Files.isRegularFile(f)) {
            throw new TensorFileException(fileOrStore + ": no latent statistics (expected a cache folder with " + STATS + ", or the file)");
        }
        return readStats(f);
    }

    /**
     * Stores the scalar statistics in a MAETok checkpoint's {@code config.json} as {@code vq_mean}/{@code vq_std}
     * (what the reference's diffusion code normalises latents with), keeping every other key as it was.
     */
    public static void writeScalarStats(Path checkpoint, LatentStatistics.Summary stats) {
        Path config = checkpoint.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException(checkpoint + ": not a checkpoint folder (no config.json)");
        }
        if (!(stats.std() > 0)) {
            throw new IllegalArgumentException("latent std is " + stats.std() + "; vq_std must be positive");
        }
        JsonNode root;
        try {
            root = JSON.readTree(config.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(config + ": not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof ObjectNode o) || maetok4j.tokenizer.VmaeConfig.describes(root)) {
            throw new IllegalArgumentException(config + ": --write-stats-to takes a MAETok checkpoint (VMAE configs have no vq_mean/vq_std;"
                    + " diffusion reads the cache's " + STATS + ")");
        }
        o.put("vq_mean", stats.mean()).put("vq_std", stats.std());
        AtomicFiles.writeString(config, o.toPrettyString() + "\n");
    }
}
