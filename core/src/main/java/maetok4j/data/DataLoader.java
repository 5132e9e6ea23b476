package maetok4j.data;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.awt.image.BufferedImage;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Batches of transformed images and labels, decoded by worker threads ahead of use (at most
 * {@code prefetch} batches). Everything random flows from the seed: the epoch's order from (seed, epoch)
 * and each sample's augmentation from (seed, epoch, position), so a run is the same whatever the thread
 * timing. Workers produce plain Java arrays; tensors are made by the consumer in its own native scope.
 */
public final class DataLoader implements AutoCloseable {

    /** One batch: images [n, 3, S, S] as (v/255 - 0.5)/0.5 in C order, labels (-1 where unlabelled). */
    public record Batch(int epoch, int index, int size, int imageSize, float[] images, long[] labels) {

        public NDArray images(NDManager manager) {
            return OwnedArrays.of(manager, images, new Shape(size, 3, imageSize, imageSize));
        }

        public NDArray labels(NDManager manager) {
            return OwnedArrays.of(manager, labels);
        }
    }

    private final Dataset data;
    private final int[] indices;
    private final ImageTransform transform;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final long seed;
    private final int prefetch;
    private final ExecutorService workers;

    /**
     * @param indices the dataset rows this loader serves (a split), or null for all
     */
    public DataLoader(Dataset data, int[] indices, ImageTransform transform, int batchSize, boolean shuffle,
            boolean dropLast, long seed, int workers, int prefetch) {
        if (batchSize < 1 || workers < 1 || prefetch < 1) {
            throw new IllegalArgumentException("batch size, workers and prefetch must be at least 1");
        }
        this.data = data;
        this.indices = indices == null ? java.util.stream.IntStream.range(0, data.size()).toArray() : indices.clone();
        this.transform = transform;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.dropLast = dropLast;
        this.seed = seed;
        this.prefetch = prefetch;
        this.workers = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "maetok-loader");
            t.setDaemon(true);
            return t;
        });
        if (batchesPerEpoch() == 0) {
            throw new IllegalArgumentException("dataset " + data.name() + " has " + this.indices.length
                    + " images, fewer than one batch of " + batchSize + " with drop-last");
        }
    }

    public int batchesPerEpoch() {
        return dropLast ? indices.length / batchSize : (indices.length + batchSize - 1) / batchSize;
    }

    public int size() {
        return indices.length;
    }

    /** The rows of an epoch in the order they are served. */
    public int[] order(int epoch) {
        int[] order = indices.clone();
        if (shuffle) {
            Permutations.shuffle(order, new SplittableRandom(mix(seed, epoch, -1)));
        }
        return order;
    }

    /** The batches of one epoch, from {@code firstBatch} on (for resuming mid-epoch). */
    public Iterator<Batch> epoch(int epoch, int firstBatch) {
        int[] order = order(epoch);
        int total = batchesPerEpoch();
        return new Iterator<>() {
            private final Deque<Future<Batch>> queue = new ArrayDeque<>();
            private int next = firstBatch;

            private void fill() {
                while (queue.size() < prefetch && next < total) {
                    int b = next++;
                    queue.add(workers.submit(() -> make(epoch, b, order)));
                }
            }

            @Override
            public boolean hasNext() {
                fill();
                return !queue.isEmpty();
            }

            @Override
            public Batch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                try {
                    Batch b = queue.poll().get();
                    fill();
                    return b;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while loading data", e);
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                }
            }
        };
    }

    private Batch make(int epoch, int b, int[] order) {
        int from = b * batchSize;
        int n = Math.min(batchSize, order.length - from);
        int s = transform.size();
        int plane = s * s;
        float[] images = new float[n * 3 * plane];
        long[] labels = new long[n];
        for (int k = 0; k < n; k++) {
            int row = order[from + k];
            BufferedImage img = transform.apply(data.image(row), new SplittableRandom(mix(seed, epoch, from + k)));
            ImageTensors.writeChw(img, images, k * 3 * plane);
            labels[k] = data.label(row);
        }
        return new Batch(epoch, b, n, s, images, labels);
    }

    static long mix(long seed, long epoch, long position) {
        long h = seed * 0x9E3779B97F4A7C15L + epoch * 0xC2B2AE3D27D4EB4FL + position * 0x165667B19E3779F9L;
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        return h ^ (h >>> 33);
    }

    /** A reproducible split: {@code [train rows, validation rows]}, the validation part {@code fraction} of the data. */
    public static int[][] split(int size, double fraction, long seed) {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be in (0, 1), got " + fraction);
        }
        int[] all = java.util.stream.IntStream.range(0, size).toArray();
        Permutations.shuffle(all, new SplittableRandom(mix(seed, -7, -7)));
        int val = (int) Math.round(size * fraction);
        int[] v = Arrays.copyOfRange(all, 0, val);
        int[] t = Arrays.copyOfRange(all, val, size);
        Arrays.sort(v);
        Arrays.sort(t);
        return new int[][] {t, v};
    }

    @Override
    public void close() {
        workers.shutdownNow();
    }
}
