package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.latents.LatentNormalization;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Labels to images: noise (drawn per sample from the seed, or given) → sampler → undo the latent normalisation →
 * tokenizer decode. Sample i's noise and SDE noise come from streams seeded by (seed, i), so a sample does not depend
 * on the batch size or on which other samples are drawn with it.
 */
public final class Generator {

    /** One batch: samples {@code [first, first + labels.length)}, latents in the tokenizer's space, images or null. */
    public record Batch(int first, long[] labels, NDArray latents, NDArray images) {}

    /** Hears each finished batch; its arrays are freed when it returns. */
    @FunctionalInterface
    public interface Sink {
        void accept(Batch batch);
    }

    private final VelocityModel model;
    private final long[] latentShape;
    private final LatentNormalization normalization;
    private final Tokenizer tokenizer;
    private final Sampler sampler;

    /**
     * @param latentShape one sample's latent shape as the model takes it
     * @param normalization how the model's latents were scaled (null: not at all)
     * @param tokenizer decodes the latents (null: latents only)
     */
    public Generator(VelocityModel model, long[] latentShape, LatentNormalization normalization, Tokenizer tokenizer, Sampler sampler) {
        if (normalization != null && !Arrays.equals(normalization.latentShape(), latentShape)) {
            throw new IllegalArgumentException("the latent normalisation is for latents " + Arrays.toString(normalization.latentShape())
                    + ", the model's are " + Arrays.toString(latentShape));
        }
        if (tokenizer != null && !Arrays.equals(tokenizer.latentShape(), latentShape)) {
            throw new IllegalArgumentException("the tokenizer's latents are " + Arrays.toString(tokenizer.latentShape())
                    + ", the diffusion model's are " + Arrays.toString(latentShape));
        }
        this.model = model;
        this.latentShape = latentShape.clone();
        this.normalization = normalization;
        this.tokenizer = tokenizer;
        this.sampler = sampler;
    }

    public long[] latentShape() {
        return latentShape.clone();
    }

    public Sampler sampler() {
        return sampler;
    }

    /**
     * Generates one sample per label, {@code batchSize} at a time. {@code noise} [N, latentShape...] is used when
     * given (N = labels.length), else drawn from {@code seed}. {@code onStep} hears of every sampler step.
     */
    public void run(long[] labels, NDArray noise, long seed, int batchSize, NDManager manager, Sink sink, IntConsumer onStep) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        if (noise != null) {
            long[] s = noise.getShape().getShape();
            if (s.length != latentShape.length + 1 || s[0] != labels.length || !Arrays.equals(Arrays.copyOfRange(s, 1, s.length), latentShape)) {
                throw new IllegalArgumentException("noise must be [" + labels.length + ", " + Arrays.toString(latentShape).replaceAll("[\\[\\]]", "")
                        + "] (one per label), got " + noise.getShape());
            }
        }
        for (int first = 0; first < labels.length; first += batchSize) {
            int count = Math.min(batchSize, labels.length - first);
            try (NDManager scope = manager.newSubManager()) {
                long[] y = Arrays.copyOfRange(labels, first, first + count);
                NDArray x = noise != null ? noise.get(new NDIndex("{}:{}", first, first + count)).toType(DataType.FLOAT32, true)
                        : noise(scope, latentShape, seed, first, count);
                x.attach(scope);
                long[] sdeSeeds = new long[count];
                for (int i = 0; i < count; i++) {
                    sdeSeeds[i] = streamSeed(seed, first + i, 1);
                }
                NDArray z = sampler.sample(model, x, OwnedArrays.of(scope, y), sdeSeeds, onStep).toType(DataType.FLOAT32, false);
                if (normalization != null) {
                    z = normalization.denormalize(z);
                }
                // decoders overshoot; image files hold [-1, 1]
                NDArray images = tokenizer == null ? null : tokenizer.decode(z).clip(-1, 1);
                if (images != null) {
                    images.attach(scope);
                }
                sink.accept(new Batch(first, y, z, images));
            }
        }
    }

    /** Noise [count, latentShape...] for samples {@code [first, first + count)}: sample i from the stream (seed, i). */
    public static NDArray noise(NDManager manager, long[] latentShape, long seed, int first, int count) {
        int per = Math.toIntExact(new Shape(latentShape).size());
        float[] e = new float[count * per];
        for (int i = 0; i < count; i++) {
            SplittableRandom rng = new SplittableRandom(streamSeed(seed, first + i, 0));
            for (int k = 0; k < per; k++) {
                e[i * per + k] = (float) rng.nextGaussian();
            }
        }
        long[] shape = new long[latentShape.length + 1];
        shape[0] = count;
        System.arraycopy(latentShape, 0, shape, 1, latentShape.length);
        return OwnedArrays.of(manager, e, new Shape(shape));
    }

    /** A well-mixed seed for sample {@code index}'s stream {@code kind} (0 the initial noise, 1 the SDE's noise). */
    static long streamSeed(long seed, long index, int kind) {
        long z = seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + kind * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
