package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;

import java.util.SplittableRandom;

/**
 * Kernel Inception Distance (Bińkowski et al. 2018) as torch-fidelity's {@code kid_features_to_metric} and
 * torchmetrics' {@code KernelInceptionDistance} compute it: the unbiased estimate of the squared maximum mean
 * discrepancy under the polynomial kernel k(x, y) = (xᵀy/D + 1)³,
 * <pre>
 *   MMD² = Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²,
 * </pre>
 * averaged over {@code subsets} pairs of random subsets of m rows, each drawn without replacement from each
 * set; the result is the mean and the population standard deviation ({@code np.std}) over subsets.
 *
 * <p>Differences from torch-fidelity: the subsets come from a seeded {@link SplittableRandom}, not numpy's
 * {@code RandomState} (so single subsets differ, the distribution of the estimate does not); the kernel is
 * computed in float64; and a set smaller than the subset size is not an error: m = min(subsetSize, nReal,
 * nFake), reported in {@link Result#subsetSize()}.
 *
 * <p>The subsets are gathered in Java and copied to libtorch, which does the rest in float64: the products
 * XYᵀ and, by symmetry only their upper block triangles, XXᵀ and YYᵀ (m×m×D each), the kernel of every entry and
 * the sums; only sums come back. With the defaults at D = 2048 that is about 10¹² floating-point operations, about
 * 20 s on two cores. Each subset's arrays live in a sub-manager closed after it, the whole computation in a base
 * manager closed before returning.
 */
public final class KernelInceptionDistance {

    /** Blocks of rows in which each subset's own kernel sums are computed. */
    static final int SELF_BLOCKS = 4;

    private KernelInceptionDistance() {}

    /**
     * @param subsets number of subset pairs averaged (torch-fidelity's {@code kid_subsets}, default 100)
     * @param subsetSize rows per subset (torch-fidelity's {@code kid_subset_size}, default 1000)
     * @param seed seeds the subset draws
     */
    public record Options(int subsets, int subsetSize, long seed) {

        /** torch-fidelity's defaults: 100 subsets of 1000 rows, seed 2020. */
        public static final Options DEFAULT = new Options(100, 1000, 2020);

        public Options {
            if (subsets < 1) {
                throw new IllegalArgumentException("subsets must be positive, got " + subsets);
            }
            if (subsetSize < 2) {
                throw new IllegalArgumentException("subsetSize must be at least 2, got " + subsetSize);
            }
        }
    }

    /**
     * @param mean mean MMD² over subsets (can be slightly negative: the estimate is unbiased)
     * @param std population standard deviation of MMD² over subsets
     * @param subsetSize the rows per subset actually used, min(requested, nReal, nFake)
     * @param subsets the number of subsets averaged
     */
    public record Result(double mean, double std, int subsetSize, int subsets) {

        public Result {
            if (subsetSize < 2 || subsets < 1 || !(std >= 0)) {
                throw new IllegalArgumentException("invalid KID result: mean " + mean + ", std " + std + ", subsetSize "
                        + subsetSize + ", subsets " + subsets);
            }
        }
    }

    /** KID with {@link Options#DEFAULT}. */
    public static Result compute(float[] real, int realRows, float[] fake, int fakeRows, int dimension) {
        return compute(real, realRows, fake, fakeRows, dimension, Options.DEFAULT);
    }

    /**
     * KID between feature sets {@code real} [realRows, dimension] and {@code fake} [fakeRows, dimension],
     * row-major; each needs at least 2 rows.
     */
    public static Result compute(float[] real, int realRows, float[] fake, int fakeRows, int dimension, Options options) {
        checkRows(real, realRows, dimension, "real");
        checkRows(fake, fakeRows, dimension, "fake");
        int m = Math.min(options.subsetSize(), Math.min(realRows, fakeRows));
        SplittableRandom rng = new SplittableRandom(options.seed());
        int[] realOrder = identity(realRows);
        int[] fakeOrder = identity(fakeRows);
        float[] xs = new float[m * dimension]; // [m, D]
        float[] ys = new float[m * dimension]; // [m, D]
        double[] mmd = new double[options.subsets()];
        Engines.configure();
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int s = 0; s < mmd.length; s++) {
                sample(realOrder, m, rng);
                sample(fakeOrder, m, rng);
                gather(real, realOrder, m, dimension, xs);
                gather(fake, fakeOrder, m, dimension, ys);
                try (NDManager subset = manager.newSubManager()) {
                    Shape shape = new Shape(m, dimension);
                    NDArray x = OwnedArrays.of(subset, xs, shape).toType(DataType.FLOAT64, false);
                    NDArray y = OwnedArrays.of(subset, ys, shape).toType(DataType.FLOAT64, false);
                    mmd[s] = unbiasedMmd2(x, y);
                }
            }
        }
        double mean = 0;
        for (double v : mmd) {
            mean += v;
        }
        mean /= mmd.length;
        double var = 0;
        for (double v : mmd) {
            var += (v - mean) * (v - mean);
        }
        return new Result(mean, Math.sqrt(var / mmd.length), m, mmd.length);
    }

    /**
     * The unbiased MMD² between the m rows of {@code x} and of {@code y} [m, D] (float64) under the polynomial
     * kernel. The intermediates are made in x's manager.
     */
    static double unbiasedMmd2(NDArray x, NDArray y) {
        long m = x.getShape().get(0);
        long d = x.getShape().get(1);
        double xy = kernel(x.matMul(y.transpose()), d).sum().getDouble(); // Σ_{i,j} k(x_i, y_j)
        return (offDiagonalKernelSum(x) + offDiagonalKernelSum(y)) / ((double) m * (m - 1)) - 2 * xy / ((double) m * m);
    }

    /**
     * Σ_{i≠j} k(x_i, x_j) over the rows of {@code x} [m, D], from the upper block triangle of x·xᵀ: for each of
     * {@value #SELF_BLOCKS} blocks of rows, its products with itself and with the later rows, so about 5/8 of the
     * m×m×D product is computed. Each block's pairs with later rows count twice; its pairs with itself once, less
     * the diagonal.
     */
    private static double offDiagonalKernelSum(NDArray x) {
        long m = x.getShape().get(0);
        long d = x.getShape().get(1);
        long rows = (m + SELF_BLOCKS - 1) / SELF_BLOCKS;
        double sum = 0;
        for (long p0 = 0; p0 < m; p0 += rows) {
            long p1 = Math.min(m, p0 + rows);
            try (NDManager block = x.getManager().newSubManager()) {
                NDArray left = x.get(block, new NDIndex("{}:{}", p0, p1)); // [c, D]
                NDArray right = x.get(block, new NDIndex("{}:", p0)); // [m − p0, D]
                NDArray k = kernel(left.matMul(right.transpose()), d); // [c, m − p0], columns p0.. of rows p0..p1
                double all = k.sum().getDouble();
                double own = k.get(new NDIndex(":, :{}", p1 - p0)).sum().getDouble(); // the block with itself
                double diagonal = k.diagonal().sum().getDouble(); // k(x_i, x_i), all in the block with itself
                sum += 2 * all - own - diagonal;
            }
        }
        return sum;
    }

    /** The polynomial kernel (xᵀy/D + 1)³ of each inner product, in place. */
    private static NDArray kernel(NDArray innerProducts, long d) {
        // a 0-d float64 D: OwnedArrays.scalar goes through float, which is exact only up to 2²⁴
        NDArray dimension = OwnedArrays.of(innerProducts.getManager(), new double[] {d}, new Shape());
        NDArray base = innerProducts.divi(dimension).addi(OwnedArrays.scalar(innerProducts, 1));
        return base.square().muli(base);
    }

    /** Moves a uniformly random m-subset of {@code order} to its front (a partial Fisher–Yates shuffle). */
    private static void sample(int[] order, int m, SplittableRandom rng) {
        for (int i = 0; i < m; i++) {
            int j = i + rng.nextInt(order.length - i);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }

    /** Row r of {@code out} [m, D] = row order[r] of {@code rows} [N, D]. */
    private static void gather(float[] rows, int[] order, int m, int d, float[] out) {
        for (int r = 0; r < m; r++) {
            System.arraycopy(rows, order[r] * d, out, r * d, d);
        }
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static void checkRows(float[] rows, int n, int d, String name) {
        if (d < 1) {
            throw new IllegalArgumentException("dimension must be positive, got " + d);
        }
        if (n < 2) {
            throw new IllegalArgumentException("KID needs at least 2 " + name + " rows, got " + n);
        }
        if (rows.length != (long) n * d) {
            throw new IllegalArgumentException(name + " must be [" + n + ", " + d + "] = " + (long) n * d
                    + " values, got " + rows.length);
        }
    }
}
