package maetok4j.metrics;

import ai.djl.ndarray.NDArray;

/**
 * The network whose activations the distribution metrics compare: InceptionV3 for FID and IS, or any other
 * feature extractor (a domain classifier trained on the data, a random-init network in tests). Reports name the
 * network behind every number ({@link #name()}), and only the standard FID InceptionV3 may have its Fréchet
 * distance called "FID" ({@link #isFidInception()}).
 */
public interface FeatureNetwork extends AutoCloseable {

    /** What reports name the numbers after, e.g. {@code "pytorch-fid InceptionV3 (inception-2015-12-05)"}. */
    String name();

    /** True only for the standard FID InceptionV3, as declared by its description; only then is an FD an "FID". */
    boolean isFidInception();

    /** Width D of the feature vector (the pooled penultimate activations). */
    int featureDim();

    /** Number of classes K of the logits output, 0 when the network has none (then no Inception Score). */
    int classes();

    /**
     * Runs the network on images [B, 3, H, W] in [-1, 1]; any resizing and normalisation the network needs is done
     * here. Native arrays made on the way are released before returning.
     */
    Activations extract(NDArray images);

    @Override
    void close();

    /**
     * One batch of activations as Java arrays (the statistics are accumulated in float64 on the Java side).
     *
     * @param features [B, D] row-major
     * @param logits [B, K] row-major, or null when the network has no logits output
     */
    record Activations(int batch, int featureDim, float[] features, float[] logits) {

        public Activations {
            if (batch < 0 || featureDim <= 0 || features.length != batch * featureDim) {
                throw new IllegalArgumentException("features must be [" + batch + ", " + featureDim + "], got " + features.length + " values");
            }
            if (logits != null && (batch == 0 ? logits.length != 0 : logits.length % batch != 0)) {
                throw new IllegalArgumentException("logits must be [" + batch + ", K], got " + logits.length + " values");
            }
        }

        /** K, or 0 without logits. */
        public int classes() {
            return logits == null || batch == 0 ? 0 : logits.length / batch;
        }
    }
}
