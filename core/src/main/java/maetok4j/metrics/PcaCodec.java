package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.NDManager;
import maetok4j.analysis.Pca;
import maetok4j.data.Dataset;
import maetok4j.data.ImageTensors;

import java.util.Arrays;
import java.util.SplittableRandom;

import java.util.random.RandomGenerator;

/**
 * The linear baseline for tokenizer evaluation: PCA of flattened training images keeping as many
 * components as the tokenizer has latent floats (e.g. 16 tokens × 8 channels = 128). Images are
 * [B, C, H, W] in [-1, 1], flattened in C order; reconstructions are clamped to [-1, 1].
 */
public final class PcaCodec {

    private final Pca pca;
    private final int components;
    private final Shape imageShape;

    /** Uses the first {@code components} components of {@code pca}, fitted on images of {@code imageShape} [C, H, W]. */
    public PcaCodec(Pca pca, int components, Shape imageShape) {
        if (imageShape.dimension() != 3 || imageShape.size() != pca.dimension()) {
            throw new IllegalArgumentException("image shape " + imageShape + " does not have the PCA's "
                    + pca.dimension() + " values");
        }
        if (components < 1 || components > pca.size()) {
            throw new IllegalArgumentException("components must be in [1, " + pca.size() + "], got " + components);
        }
        this.pca = pca;
        this.components = components;
        this.imageShape = imageShape;
    }

    /**
     * Largest image (C·H·W values) a baseline is fitted for: the d×d float64 scatter matrix is 128 MB there,
     * and its eigen-decomposition takes seconds; it grows with d² and d³.
     */
    public static final int MAX_DIMENSION = 4096;

    /** Why no baseline can be fitted for these images, or null when one can. */
    public static String unfittable(int channels, int size, int components, int trainImages) {
        long d = (long) channels * size * size;
        if (d > MAX_DIMENSION) {
            return channels + "x" + size + "x" + size + " images have " + d + " values, over the " + MAX_DIMENSION + " a PCA is fitted for";
        }
        if (components >= trainImages) {
            return components + " components need more than " + trainImages + " training images";
        }
        return null;
    }

    /**
     * The baseline with {@code components} components fitted on {@code trainRows} of {@code data} (ADM center
     * crops to {@code size}, streamed in chunks); the subspace solver starts from {@code seed}.
     */
    public static PcaCodec fit(Dataset data, int[] trainRows, int size, int components, long seed, NDManager manager) {
        String why = unfittable(3, size, components, trainRows.length);
        if (why != null) {
            throw new IllegalArgumentException("no PCA baseline: " + why);
        }
        Fitter fitter = new Fitter(3, size, size);
        for (int from = 0; from < trainRows.length; from += 256) {
            try (NDManager scope = manager.newSubManager()) {
                fitter.add(ImageTensors.load(data, Arrays.copyOfRange(trainRows, from, Math.min(trainRows.length, from + 256)), size, scope));
            }
        }
        return fitter.fit(components, new SplittableRandom(seed));
    }

    /** Streams training images into a PCA. */
    public static final class Fitter {

        private final Shape imageShape;
        private final Pca.Accumulator accumulator;

        /** For images [C, H, W]. */
        public Fitter(int channels, int height, int width) {
            this.imageShape = new Shape(channels, height, width);
            this.accumulator = new Pca.Accumulator(Math.toIntExact(imageShape.size()));
        }

        /** Adds training images [B, C, H, W] in [-1, 1]. */
        public void add(NDArray images) {
            Shape s = images.getShape();
            if (s.dimension() != 4 || !s.slice(1).equals(imageShape)) {
                throw new IllegalArgumentException("expected images [B, " + imageShape + "], got " + s);
            }
            try (NDArray rows = images.reshape(s.get(0), -1)) { // [B, C·H·W]
                accumulator.add(rows);
            }
        }

        public long count() {
            return accumulator.count();
        }

        /** The codec keeping {@code components} components (a fixed solver seed). */
        public PcaCodec fit(int components) {
            return new PcaCodec(accumulator.fit(components), components, imageShape);
        }

        public PcaCodec fit(int components, RandomGenerator rng) {
            return new PcaCodec(accumulator.fit(components, rng), components, imageShape);
        }
    }

    /** Latent floats per image. */
    public int latentFloats() {
        return components;
    }

    public Pca pca() {
        return pca;
    }

    /** Codes [B, k] (float32) of images [B, C, H, W]. */
    public NDArray encode(NDArray images) {
        Shape s = images.getShape();
        if (s.dimension() != 4 || !s.slice(1).equals(imageShape)) {
            throw new IllegalArgumentException("expected images [B, " + imageShape + "], got " + s);
        }
        try (NDArray rows = images.reshape(s.get(0), -1)) { // [B, C·H·W]
            return pca.transform(rows, components).toType(DataType.FLOAT32, false);
        }
    }

    /** Images [B, C, H, W] (float32) in [-1, 1] from codes [B, k]. */
    public NDArray decode(NDArray codes) {
        try (NDArray rows = pca.inverseTransform(codes, components); // [B, C·H·W]
                NDArray clipped = rows.clip(-1.0, 1.0)) {
            return clipped.toType(DataType.FLOAT32, false).reshape(new Shape(codes.getShape().get(0)).addAll(imageShape));
        }
    }

    /** decode(encode(images)). */
    public NDArray reconstruct(NDArray images) {
        try (NDArray codes = encode(images)) {
            return decode(codes);
        }
    }
}
