package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import org.ejml.data.DMatrixRMaj;

import java.nio.DoubleBuffer;
import java.util.Arrays;

/**
 * The mean and covariance of a stream of D-wide feature vectors, the two statistics a Fréchet distance
 * compares, accumulated batch by batch without holding the features (50,000 Inception features of width
 * 2048 are 400 MB; their statistics are 32 MB). Float32 features are summed in float64; the covariance is
 * normalised by N−1, as {@code np.cov(x, rowvar=False)} in pytorch-fid's and the ADM evaluator's
 * {@code calculate_activation_statistics}.
 *
 * <p>Rows are accumulated about a shift, the first row seen: Σ(x−s) and Σ(x−s)(x−s)ᵀ, so a large common
 * offset of the features does not cancel catastrophically in (Σxxᵀ − N·μμᵀ). Σ(x−s) is summed in Java as rows
 * arrive; the shifted rows are held back in float64 until {@value #PENDING_ROWS} have gathered (or the covariance
 * is asked for), then their scatter XᵀX goes into the Java-held total, computed in libtorch in float64: one product
 * per block of {@value #COLUMN_BLOCK} columns against the columns from that block on, the upper triangle and a
 * little more (about 56% of the D×D product at D = 2048), copied back and added. Holding rows back spreads the cost
 * of each product's call and copy over many small batches; at D = 2048 the held rows take 16 MB beside the 32 MB
 * total. The native arrays of a product live in a base manager closed before it returns, so an instance holds no
 * native memory. Instances are mutable and not thread-safe.
 */
public final class FeatureStatistics {

    /** The count of statistics loaded from a file that does not record it (an ADM reference batch). */
    public static final long UNKNOWN_COUNT = 0;

    /** Shifted rows collected before their scatter is computed. */
    static final int PENDING_ROWS = 1024;
    /** Columns per product of a flush. */
    static final int COLUMN_BLOCK = 256;

    private final int dimension;
    // rows added, including the pending ones
    private long count;
    // [D], null until the first row: the shift s
    private double[] shift;
    // [D]: Σ(x−s)
    private final double[] sum;
    // [D, D] row-major: Σ(x−s)(x−s)ᵀ over all but the pending rows, of which only the upper triangle (j ≥ i) is
    // kept up to date once rows are added; for statistics loaded with an unknown count, the covariance itself
    private final double[] scatter;
    private final boolean countKnown;
    // [PENDING_ROWS, D] row-major, made on the first add: the shifted rows whose scatter is not yet in scatter
    private double[] pending;
    private int pendingRows;

    /** Empty statistics of {@code dimension}-wide features. */
    public FeatureStatistics(int dimension) {
        this(dimension, true);
    }

    private FeatureStatistics(int dimension, boolean countKnown) {
        if (dimension < 1) {
            throw new IllegalArgumentException("dimension must be positive, got " + dimension);
        }
        if ((long) dimension * dimension > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("dimension " + dimension + " is too large for a dense covariance");
        }
        this.dimension = dimension;
        this.sum = new double[dimension];
        this.scatter = new double[dimension * dimension];
        this.countKnown = countKnown;
    }

    /**
     * Statistics from a stored mean {@code mu} [D] and covariance {@code sigma} [D, D] (row-major) of
     * {@code count} rows. With a count of at least 2 more rows can be added, exactly as if the original rows
     * had been; with {@link #UNKNOWN_COUNT} only {@link #mean()} and {@link #covariance()} are available.
     */
    public static FeatureStatistics of(double[] mu, double[] sigma, long count) {
        int d = mu.length;
        if (d < 1 || sigma.length != (long) d * d) {
            throw new IllegalArgumentException("sigma must be [" + d + ", " + d + "] for mu [" + d + "], got "
                    + sigma.length + " values");
        }
        if (count != UNKNOWN_COUNT && count < 2) {
            throw new IllegalArgumentException("count must be at least 2 (or UNKNOWN_COUNT), got " + count);
        }
        FeatureStatistics s = new FeatureStatistics(d, count != UNKNOWN_COUNT);
        s.shift = mu.clone();
        s.count = count;
        double scale = s.countKnown ? count - 1 : 1;
        for (int i = 0; i < sigma.length; i++) {
            s.scatter[i] = sigma[i] * scale;
        }
        return s;
    }

    /**
     * Adds {@code rows} feature vectors, row-major in {@code rowsRowMajor} [rows, D].
     *
     * @throws IllegalStateException for statistics loaded with an unknown count
     */
    public void add(float[] rowsRowMajor, int rows) {
        if (!countKnown) {
            throw new IllegalStateException("statistics loaded without their sample count cannot be extended");
        }
        if (rows < 0 || rowsRowMajor.length != (long) rows * dimension) {
            throw new IllegalArgumentException("expected [" + rows + ", " + dimension + "] = " + (long) rows * dimension
                    + " values, got " + rowsRowMajor.length);
        }
        if (rows == 0) {
            return;
        }
        if (shift == null) {
            shift = new double[dimension];
            for (int j = 0; j < dimension; j++) {
                shift[j] = rowsRowMajor[j];
            }
        }
        if (pending == null) {
            pending = new double[PENDING_ROWS * dimension];
        }
        for (int r = 0; r < rows; r++) {
            if (pendingRows == PENDING_ROWS) {
                flush();
            }
            int o = r * dimension;
            int p = pendingRows * dimension;
            for (int j = 0; j < dimension; j++) {
                double v = rowsRowMajor[o + j] - shift[j];
                pending[p + j] = v;
                sum[j] += v;
            }
            pendingRows++;
            count++;
        }
    }

    /**
     * Adds the pending rows' scatter XᵀX to the upper triangle of {@link #scatter}, in float64 products in libtorch:
     * one per block of {@value #COLUMN_BLOCK} columns, that block's columns against it and every later column, so a
     * little over half of the D×D product is computed and copied back.
     */
    private void flush() {
        if (pendingRows == 0) {
            return;
        }
        int d = dimension;
        double[] rows = pendingRows == PENDING_ROWS ? pending : Arrays.copyOf(pending, pendingRows * d);
        Engines.configure();
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = OwnedArrays.of(manager, rows, new Shape(pendingRows, d)); // [B, D]
            for (int p0 = 0; p0 < d; p0 += COLUMN_BLOCK) {
                int p1 = Math.min(d, p0 + COLUMN_BLOCK);
                int w = d - p0;
                try (NDManager block = manager.newSubManager()) {
                    NDArray left = x.get(block, new NDIndex(":, {}:{}", p0, p1)); // [B, p1 − p0]
                    NDArray right = x.get(block, new NDIndex(":, {}:", p0)); // [B, w]
                    NDArray product = left.transpose().matMul(right); // [p1 − p0, w], rows p0.. columns p0..
                    product.attach(block);
                    // a view of libtorch's memory, read before the block is closed
                    DoubleBuffer values = product.toByteBuffer(true).asDoubleBuffer();
                    double[] row = new double[w];
                    for (int i = 0; i < p1 - p0; i++) {
                        values.get(i * w, row, 0, w);
                        int o = (p0 + i) * d + p0;
                        for (int j = 0; j < w; j++) {
                            scatter[o + j] += row[j];
                        }
                    }
                }
            }
        }
        pendingRows = 0;
    }

    public int dimension() {
        return dimension;
    }

    /** The number of rows, or {@link #UNKNOWN_COUNT} for loaded statistics that did not record it. */
    public long count() {
        return count;
    }

    /** μ [D]. */
    public double[] mean() {
        requireRows(1);
        double[] mu = new double[dimension];
        for (int j = 0; j < dimension; j++) {
            mu[j] = countKnown ? shift[j] + sum[j] / count : shift[j];
        }
        return mu;
    }

    /**
     * Σ [D, D] row-major, normalised by N−1: (Σ(x−s)(x−s)ᵀ − N·(μ−s)(μ−s)ᵀ) / (N−1), computed on the upper triangle
     * and mirrored (exactly symmetric); statistics loaded with an unknown count return the stored matrix as it is.
     */
    public double[] covariance() {
        requireRows(2);
        if (!countKnown) {
            return scatter.clone();
        }
        flush();
        int d = dimension;
        double[] m = new double[d]; // μ − s
        for (int j = 0; j < d; j++) {
            m[j] = sum[j] / count;
        }
        double[] cov = new double[d * d];
        double[] s = scatter;
        for (int i = 0; i < d; i++) {
            double nmi = count * m[i];
            for (int j = i; j < d; j++) {
                cov[i * d + j] = (s[i * d + j] - nmi * m[j]) / (count - 1);
            }
        }
        // the lower triangle mirrors the upper, so the result is exactly symmetric
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < i; j++) {
                cov[i * d + j] = cov[j * d + i];
            }
        }
        return cov;
    }

    /** {@link #covariance()} as an EJML matrix. */
    public DMatrixRMaj covarianceMatrix() {
        return DMatrixRMaj.wrap(dimension, dimension, covariance());
    }

    private void requireRows(int minimum) {
        if (countKnown && count < minimum) {
            throw new IllegalStateException("need at least " + minimum + " rows, got " + count);
        }
    }
}
