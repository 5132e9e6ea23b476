package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.data.ImageTensors;

import java.util.Arrays;

/**
 * The activations of one set of images under one feature network, gathered batch by batch: running feature
 * statistics (for the Fréchet distance) and, when kept, the feature rows (for KID and precision/recall, which
 * need the points themselves) and the logits (for the Inception Score). Images are never held.
 *
 * <p>Images are quantised to 8 bits first ({@link ImageTensors#quantize(NDArray)}), because every reference
 * protocol scores 8-bit pictures: torchmetrics' FID takes uint8 tensors, pytorch-fid and the ADM evaluator
 * read PNGs or uint8 arrays. Kept rows cost 4·D bytes per image (8 KB for InceptionV3's 2048 features).
 */
public final class FeatureSet {

    private final FeatureNetwork net; // null for stored statistics
    private final String network;
    private final int dimension;
    private final FeatureStatistics statistics;
    private final boolean keep;
    private float[] features = new float[0]; // [rows, D] when kept
    private float[] logits = new float[0]; // [rows, K] when kept and the network has logits
    private int classes;
    private int rows;

    /**
     * @param keepRows keep feature rows and logits (needed for KID, precision/recall and IS); without them only
     *     the statistics are gathered
     */
    public FeatureSet(FeatureNetwork network, boolean keepRows) {
        this(network, network.name(), network.featureDim(), new FeatureStatistics(network.featureDim()), keepRows);
    }

    private FeatureSet(FeatureNetwork net, String network, int dimension, FeatureStatistics statistics, boolean keep) {
        this.net = net;
        this.network = network;
        this.dimension = dimension;
        this.statistics = statistics;
        this.keep = keep;
    }

    /**
     * A set known only by stored statistics (an ADM reference {@code .npz}): a Fréchet distance, nothing else.
     *
     * @param network the network the statistics were computed with, or null when the file does not say
     */
    public static FeatureSet ofStatistics(FeatureStatistics statistics, String network) {
        return new FeatureSet(null, network, statistics.dimension(), statistics, false);
    }

    /** Adds images [B, 3, H, W] in [-1, 1] (any size: the network resizes). */
    public void add(NDArray images) {
        if (net == null) {
            throw new IllegalStateException("a set of stored statistics takes no images");
        }
        FeatureNetwork.Activations a;
        try (NDManager scope = images.getManager().newSubManager()) {
            NDArray eightBit = ImageTensors.quantize(images);
            eightBit.attach(scope);
            a = net.extract(eightBit);
        }
        add(a);
    }

    /** Adds activations computed elsewhere. */
    public void add(FeatureNetwork.Activations a) {
        if (a.featureDim() != dimension) {
            throw new IllegalArgumentException("activations have " + a.featureDim() + " features, this set has " + dimension);
        }
        statistics.add(a.features(), a.batch());
        if (keep) {
            features = append(features, (long) rows * dimension, a.features());
            if (a.logits() != null) {
                if (rows > 0 && a.classes() != classes) {
                    throw new IllegalArgumentException("logits of " + a.classes() + " classes after " + classes);
                }
                classes = a.classes();
                logits = append(logits, (long) rows * classes, a.logits());
            }
        }
        rows += a.batch();
    }

    /** Appends {@code more} after the first {@code used} values, growing the array geometrically. */
    private static float[] append(float[] array, long used, float[] more) {
        long need = used + more.length;
        if (need > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("more than " + (Integer.MAX_VALUE - 8) + " kept activations; gather statistics only");
        }
        float[] out = array;
        if (need > array.length) {
            out = Arrays.copyOf(array, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(need, array.length * 3L / 2 + 1024)));
        }
        System.arraycopy(more, 0, out, (int) used, more.length);
        return out;
    }

    /** Whether the network is the standard FID InceptionV3 (never for stored statistics, which do not say). */
    public boolean fidInception() {
        return net != null && net.isFidInception();
    }

    /** The name of the network behind these activations (null for stored statistics that do not record it). */
    public String network() {
        return network;
    }

    public int dimension() {
        return dimension;
    }

    /** Images added (for stored statistics, the count they record, possibly {@link FeatureStatistics#UNKNOWN_COUNT}). */
    public long count() {
        return rows > 0 ? rows : statistics.count();
    }

    public FeatureStatistics statistics() {
        return statistics;
    }

    /** Whether feature rows were kept (so KID and precision/recall can be computed). */
    public boolean hasRows() {
        return keep && rows > 0;
    }

    /** Kept rows [count, D] (a copy trimmed to size). */
    public float[] rows() {
        requireRows();
        return Arrays.copyOf(features, rows * dimension);
    }

    /** Whether logits were kept (so the Inception Score can be computed). */
    public boolean hasLogits() {
        return keep && rows > 0 && classes > 0;
    }

    public int classes() {
        return classes;
    }

    /** Kept logits [count, K] (a copy trimmed to size). */
    public float[] logits() {
        if (!hasLogits()) {
            throw new IllegalStateException("no logits were kept for this set");
        }
        return Arrays.copyOf(logits, rows * classes);
    }

    private void requireRows() {
        if (!hasRows()) {
            throw new IllegalStateException("no feature rows were kept for this set");
        }
    }
}
