package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;

import java.util.Arrays;

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) exactly as the ADM evaluator's
 * {@code ManifoldEstimator} computes them (guided-diffusion {@code evaluations/evaluator.py},
 * {@code compute_prec_recall} with {@code nhood_sizes=(3,)} and no {@code clamp_to_percentile}):
 * <ul>
 *   <li>distances are squared Euclidean, max(‖u‖² − 2uᵀv + ‖v‖², 0);</li>
 *   <li>the radius of a row is its k-th nearest-neighbour distance within its own set, counting the row itself
 *       (the evaluator's {@code np.partition(distances, k)[:, k]} over a row that includes the zero
 *       self-distance), so it is the k-th nearest other row;</li>
 *   <li>precision is the fraction of fake rows within the radius (d² ≤ r²) of at least one real row, recall the
 *       fraction of real rows within the radius of at least one fake row.</li>
 * </ul>
 * The evaluator computes the distances in float16 on the GPU (float32 when that overflows); here they are
 * float64, so a row lying within rounding of a radius may be counted differently.
 *
 * <p>Distances are made a block of 2048×2048 at a time (never an N×N matrix) in libtorch, in float64: the
 * blocks of rows are copied over as float32 and widened there, uᵀv is one product per block, and the squared
 * norms are computed once in Java. For the radii, each block's k+1 smallest distances per row (and, for a block
 * off the diagonal, per column: each set's own distances are symmetric, so only blocks on or above the diagonal
 * are made) are selected by libtorch's {@code topk} and merged in Java, k+1 doubles per row. For the manifold
 * tests each cross block is compared with both sets' radii and reduced to per-row and per-column hit counts in
 * libtorch, so only vectors come back. The work is 2·N²·D multiply-adds for N rows per set, about 17 s for
 * 10,000 rows of width 2048 on two cores and 7 minutes for 50,000. Memory is a few blocks (under 200 MB of
 * native memory at width 2048, each block's arrays freed when it is done, everything by the time this returns)
 * and k+1 doubles per row.
 */
public final class PrecisionRecall {

    /** The evaluator's neighbourhood size. */
    public static final int DEFAULT_K = 3;
    /** Rows per distance block. */
    static final int BLOCK = 2048;

    private PrecisionRecall() {}

    /**
     * @param precision fraction of fake rows inside the real manifold
     * @param recall fraction of real rows inside the fake manifold
     * @param k the neighbourhood size of the radii
     */
    public record Result(double precision, double recall, int k) {

        public Result {
            if (!(precision >= 0 && precision <= 1) || !(recall >= 0 && recall <= 1) || k < 1) {
                throw new IllegalArgumentException("invalid result: precision " + precision + ", recall " + recall + ", k " + k);
            }
        }
    }

    /** Precision and recall with {@link #DEFAULT_K}. */
    public static Result compute(float[] real, int realRows, float[] fake, int fakeRows, int dimension) {
        return compute(real, realRows, fake, fakeRows, dimension, DEFAULT_K);
    }

    /**
     * Precision and recall of {@code fake} [fakeRows, dimension] against {@code real} [realRows, dimension],
     * row-major; each set needs more than k rows.
     */
    public static Result compute(float[] real, int realRows, float[] fake, int fakeRows, int dimension, int k) {
        return compute(real, realRows, fake, fakeRows, dimension, k, BLOCK);
    }

    static Result compute(float[] real, int realRows, float[] fake, int fakeRows, int dimension, int k, int block) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be positive, got " + k);
        }
        Rows r = new Rows(real, realRows, dimension, "real", k);
        Rows f = new Rows(fake, fakeRows, dimension, "fake", k);
        Engines.configure();
        try (NDManager manager = NDManager.newBaseManager()) {
            double[] realRadii = radii(manager, r, k, block);
            double[] fakeRadii = radii(manager, f, k, block);
            boolean[] fakeInReal = new boolean[f.n];
            boolean[] realInFake = new boolean[r.n];
            for (int j0 = 0; j0 < f.n; j0 += block) {
                int j1 = Math.min(f.n, j0 + block);
                try (NDManager column = manager.newSubManager()) {
                    NDArray b = f.block(column, j0, j1); // [w, d]
                    NDArray bNorms = f.norms(column, j0, j1).reshape(1, j1 - j0);
                    NDArray bRadii = OwnedArrays.of(column, Arrays.copyOfRange(fakeRadii, j0, j1), new Shape(1, j1 - j0));
                    for (int i0 = 0; i0 < r.n; i0 += block) {
                        int i1 = Math.min(r.n, i0 + block);
                        try (NDManager step = column.newSubManager()) {
                            NDArray a = r.block(step, i0, i1); // [h, d]
                            NDArray aNorms = r.norms(step, i0, i1).reshape(i1 - i0, 1);
                            NDArray aRadii = OwnedArrays.of(step, Arrays.copyOfRange(realRadii, i0, i1), new Shape(i1 - i0, 1));
                            NDArray dist = distances(a, aNorms, b, bNorms); // [h, w]
                            // fake row j is inside the real manifold when some real row i has d²(i, j) <= r²(i)
                            long[] inReal = dist.lte(aRadii).sum(new int[] {0}).toLongArray(); // [w]
                            long[] inFake = dist.lte(bRadii).sum(new int[] {1}).toLongArray(); // [h]
                            for (int j = 0; j < inReal.length; j++) {
                                fakeInReal[j0 + j] |= inReal[j] > 0;
                            }
                            for (int i = 0; i < inFake.length; i++) {
                                realInFake[i0 + i] |= inFake[i] > 0;
                            }
                        }
                    }
                }
            }
            return new Result(fraction(fakeInReal), fraction(realInFake), k);
        }
    }

    /**
     * The squared distance of each row to its k-th nearest row of the same set, the row itself counted as the
     * nearest (index k of the sorted distances, as {@code np.partition(d, k)[:, k]}).
     */
    static double[] radii(Rows rows, int k, int block) {
        Engines.configure();
        try (NDManager manager = NDManager.newBaseManager()) {
            return radii(manager, rows, k, block);
        }
    }

    /** {@link #radii(Rows, int, int)} with its arrays in sub-managers of {@code manager}, closed before returning. */
    private static double[] radii(NDManager manager, Rows rows, int k, int block) {
        int n = rows.n;
        double[] nearest = new double[n * (k + 1)]; // [n, k+1]: each row's k+1 smallest distances, ascending
        Arrays.fill(nearest, Double.POSITIVE_INFINITY);
        for (int j0 = 0; j0 < n; j0 += block) {
            int j1 = Math.min(n, j0 + block);
            int w = j1 - j0;
            try (NDManager column = manager.newSubManager()) {
                NDArray b = rows.block(column, j0, j1); // [w, d]
                NDArray bNorms = rows.norms(column, j0, j1);
                // blocks below the diagonal are the transposes of those above it
                for (int i0 = 0; i0 <= j0; i0 += block) {
                    int i1 = Math.min(n, i0 + block);
                    int h = i1 - i0;
                    try (NDManager step = column.newSubManager()) {
                        NDArray a = i0 == j0 ? b : rows.block(step, i0, i1); // [h, d]
                        NDArray aNorms = i0 == j0 ? bNorms : rows.norms(step, i0, i1);
                        NDArray dist = distances(a, aNorms.reshape(h, 1), b, bNorms.reshape(1, w)); // [h, w]
                        int across = Math.min(k + 1, w);
                        double[] rowNearest = dist.topK(across, 1, false, true).get(0).toDoubleArray(); // [h, across]
                        for (int i = 0; i < h; i++) {
                            for (int t = 0; t < across; t++) {
                                offer(nearest, i0 + i, k, rowNearest[i * across + t]);
                            }
                        }
                        if (i0 != j0) {
                            int down = Math.min(k + 1, h);
                            double[] columnNearest = dist.topK(down, 0, false, true).get(0).toDoubleArray(); // [down, w]
                            for (int t = 0; t < down; t++) {
                                for (int j = 0; j < w; j++) {
                                    offer(nearest, j0 + j, k, columnNearest[t * w + j]);
                                }
                            }
                        }
                    }
                }
            }
        }
        double[] radii = new double[n];
        for (int i = 0; i < n; i++) {
            radii[i] = nearest[i * (k + 1) + k];
        }
        return radii;
    }

    /** Inserts {@code dist} into row {@code row}'s ascending list of its k+1 smallest distances. */
    private static void offer(double[] nearest, int row, int k, double dist) {
        int base = row * (k + 1);
        int p = base + k;
        if (!(dist < nearest[p])) {
            return;
        }
        while (p > base && nearest[p - 1] > dist) {
            nearest[p] = nearest[p - 1];
            p--;
        }
        nearest[p] = dist;
    }

    /**
     * max(‖u‖² − 2·u·v + ‖v‖², 0) [h, w] in float64 for u the rows of {@code a} [h, d] with squared norms
     * {@code aNorms} [h, 1] and v the rows of {@code b} [w, d] with {@code bNorms} [1, w]; made in a's manager.
     */
    private static NDArray distances(NDArray a, NDArray aNorms, NDArray b, NDArray bNorms) {
        NDArray d = a.matMul(b.transpose()); // u·vᵀ
        // (−2·u·v + ‖u‖²) + ‖v‖² rounds as (‖u‖² − 2·u·v) + ‖v‖²: the doubling and the negation are exact
        d.muli(OwnedArrays.scalar(d, -2)).addi(aNorms).addi(bNorms);
        return d.maximum(OwnedArrays.scalar(d, 0));
    }

    private static double fraction(boolean[] flags) {
        int count = 0;
        for (boolean f : flags) {
            if (f) {
                count++;
            }
        }
        return (double) count / flags.length;
    }

    /** One feature set [n, d] row-major, with its rows' squared norms in float64. */
    static final class Rows {

        final float[] data;
        final int n;
        final int d;
        final double[] norms;

        Rows(float[] data, int n, int d, String name, int k) {
            if (d < 1) {
                throw new IllegalArgumentException("dimension must be positive, got " + d);
            }
            if (n <= k) {
                throw new IllegalArgumentException("the " + name + " set needs more than k = " + k + " rows, got " + n);
            }
            if (data.length != (long) n * d) {
                throw new IllegalArgumentException(name + " must be [" + n + ", " + d + "] = " + (long) n * d
                        + " values, got " + data.length);
            }
            this.data = data;
            this.n = n;
            this.d = d;
            this.norms = new double[n];
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < d; j++) {
                    double x = data[i * d + j];
                    s += x * x;
                }
                norms[i] = s;
            }
        }

        /** Rows [from, to) as a float64 array [to − from, d] in {@code manager}. */
        NDArray block(NDManager manager, int from, int to) {
            float[] rows = Arrays.copyOfRange(data, from * d, to * d);
            return OwnedArrays.of(manager, rows, new Shape(to - from, d)).toType(DataType.FLOAT64, false);
        }

        /** The squared norms of rows [from, to) as a float64 array [to − from] in {@code manager}. */
        NDArray norms(NDManager manager, int from, int to) {
            return OwnedArrays.of(manager, Arrays.copyOfRange(norms, from, to), new Shape(to - from));
        }
    }
}
