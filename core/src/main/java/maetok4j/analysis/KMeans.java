package maetok4j.analysis;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.Arrays;
import java.util.Comparator;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;

/**
 * k-means as scikit-learn 1.2's {@code KMeans(n_init=1, algorithm="lloyd")} runs it to initialise a Gaussian
 * mixture: greedy k-means++ seeding ({@code _kmeans_plusplus}: {@code 2 + ⌊ln k⌋} candidates per centre, drawn
 * in proportion to the squared distance to the nearest chosen centre, keeping the one that lowers the total
 * most), then Lloyd iterations until the labels stop changing or the squared centre shift falls to
 * {@code 1e-4} times the mean per-feature variance, at most 300 of them. An empty cluster takes the point
 * farthest from its centre, as scikit-learn relocates them. Random draws come from the given generator
 * (not numpy's), so results match scikit-learn's in distribution, not bit for bit.
 *
 * <p>Distances are {@code |x|² - 2·x·c + |c|²} from float32 matmuls over all rows (an initialisation only
 * ranks distances; float32 products run at twice the float64 speed), and so are the centre sums (a one-hot
 * product): the clustering only seeds the mixture, whose EM is float64 throughout. A float64 copy of the rows
 * (8·n·d bytes of heap) serves the k-means++ centres and empty-cluster relocations.
 */
final class KMeans {

    static final int MAX_ITERATIONS = 300;
    static final double RELATIVE_TOLERANCE = 1e-4;

    /** Centres [k, d] row-major, each row's label, and the number of Lloyd iterations run. */
    record Result(double[] centers, long[] labels, int iterations, boolean strictlyConverged) {}

    private KMeans() {}

    /** Clusters float64 rows {@code x} [n, d] (n ≥ k) into k clusters; temporaries are freed on return. */
    static Result fit(NDArray x, int k, RandomGenerator rng) {
        long n = x.getShape().get(0);
        if (x.getDataType() != DataType.FLOAT64 || x.getShape().dimension() != 2) {
            throw new IllegalArgumentException("expected float64 rows [n, d], got " + x.getDataType() + " " + x.getShape());
        }
        if (k < 1 || n < k) {
            throw new IllegalArgumentException("k-means needs 1 ≤ k ≤ n, got k = " + k + ", n = " + n);
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            x.tempAttach(scope);
            double tolerance = tolerance(x);
            double[] rows = x.toDoubleArray(); // [n, d]
            // distances only rank centres, so float32 products (twice the speed of float64 here) serve; the
            // centres themselves are float64 means of the float64 rows
            NDArray x32 = x.toType(DataType.FLOAT32, true); // [n, d]
            double[] sqNorms = doubles(x32.square().sum(new int[] {1})); // [n]
            double[] centers = plusPlus(x32, rows, sqNorms, k, rng);
            return lloyd(x32, rows, centers, k, tolerance);
        }
    }

    /** scikit-learn's {@code _tolerance}: the relative tolerance times the mean of the per-feature variances. */
    static double tolerance(NDArray x) {
        try (NDManager scope = x.getManager().newSubManager()) {
            x.tempAttach(scope);
            NDArray mean = x.mean(new int[] {0}); // [d]
            return x.sub(mean).square().mean().getDouble() * RELATIVE_TOLERANCE;
        }
    }

    /** Greedy k-means++: the chosen centres [k, d] row-major. */
    static double[] plusPlus(NDArray x, double[] rows, double[] sqNorms, int k, RandomGenerator rng) {
        int n = sqNorms.length;
        int trials = 2 + (int) Math.log(k);
        long[] chosen = new long[k];
        chosen[0] = rng.nextInt(n);
        double[] closest = squaredDistances(x, sqNorms, new long[] {chosen[0]})[0];
        double potential = sum(closest);
        double[] cumulative = new double[n];
        for (int c = 1; c < k; c++) {
            cumulativeSum(closest, cumulative);
            long[] candidates = new long[trials];
            for (int t = 0; t < trials; t++) {
                candidates[t] = Math.min(searchLeft(cumulative, rng.nextDouble() * potential), n - 1);
            }
            double[][] toCandidates = squaredDistances(x, sqNorms, candidates);
            int best = -1;
            double bestPotential = Double.POSITIVE_INFINITY;
            for (int t = 0; t < trials; t++) {
                double[] dt = toCandidates[t];
                for (int i = 0; i < n; i++) {
                    dt[i] = Math.min(dt[i], closest[i]);
                }
                double p = sum(dt);
                if (p < bestPotential) {
                    bestPotential = p;
                    best = t;
                }
            }
            // every potential is NaN only if the data are; the first candidate keeps the run defined
            best = Math.max(best, 0);
            closest = toCandidates[best];
            potential = bestPotential;
            chosen[c] = candidates[best];
        }
        int d = (int) x.getShape().get(1);
        double[] centers = new double[k * d];
        for (int c = 0; c < k; c++) {
            System.arraycopy(rows, (int) chosen[c] * d, centers, c * d, d);
        }
        return centers;
    }

    /** Squared distances [t][n] from each indexed row to every row, clamped at zero as scikit-learn does. */
    private static double[][] squaredDistances(NDArray x, double[] sqNorms, long[] indices) {
        int n = sqNorms.length;
        int t = indices.length;
        double[] dots;
        try (NDManager scope = x.getManager().newSubManager()) {
            x.tempAttach(scope);
            NDArray picked = x.get(OwnedArrays.of(scope, indices)); // [t, d]
            // x on the left: a transposed x on the right would be copied whole by every call
            dots = doubles(x.matMul(picked.transpose())); // [n, t]
        }
        double[][] out = new double[t][n];
        for (int j = 0; j < t; j++) {
            double cj = sqNorms[(int) indices[j]];
            for (int i = 0; i < n; i++) {
                out[j][i] = Math.max(0, sqNorms[i] - 2 * dots[i * t + j] + cj);
            }
        }
        return out;
    }

    private static Result lloyd(NDArray x, double[] rows, double[] centers, int k, double tolerance) {
        int n = (int) x.getShape().get(0);
        int d = (int) x.getShape().get(1);
        long[] previous = null;
        long[] labels = null;
        boolean strict = false;
        int iteration = 0;
        while (iteration < MAX_ITERATIONS) {
            iteration++;
            double[] sums;
            long[] counts = new long[k];
            try (NDManager scope = x.getManager().newSubManager()) {
                x.tempAttach(scope);
                NDArray scores = assignmentScores(x, centers, k, scope); // [n, k]
                NDArray assigned = scores.argMin(1); // [n]
                labels = assigned.toLongArray();
                for (int i = 0; i < n; i++) {
                    counts[(int) labels[i]]++;
                }
                sums = doubles(assigned.oneHot(k, x.getDataType()).transpose().matMul(x)); // [k, d]
                if (Arrays.stream(counts).anyMatch(c -> c == 0)) {
                    // |x - c|² for each row's own centre: the rows farthest from theirs seed the empty clusters
                    double[] own = doubles(scores.min(new int[] {1}).add(x.square().sum(new int[] {1}))); // [n]
                    relocateEmpty(rows, own, labels, sums, counts, k, d);
                }
            }
            double shift = 0;
            for (int c = 0; c < k; c++) {
                for (int j = 0; j < d; j++) {
                    // a cluster emptied by a relocation keeps its centre, as scikit-learn leaves zero-weight ones
                    double updated = counts[c] > 0 ? sums[c * d + j] / counts[c] : centers[c * d + j];
                    double delta = updated - centers[c * d + j];
                    shift += delta * delta;
                    centers[c * d + j] = updated;
                }
            }
            if (Arrays.equals(labels, previous)) {
                strict = true;
                break;
            }
            if (shift <= tolerance) {
                break;
            }
            previous = labels;
        }
        if (!strict) {
            // the labels must belong to the final centres
            try (NDManager scope = x.getManager().newSubManager()) {
                x.tempAttach(scope);
                labels = assignmentScores(x, centers, k, scope).argMin(1).toLongArray();
            }
        }
        return new Result(centers, labels, iteration, strict);
    }

    /** {@code |c|² - 2·x·c} [n, k]: the squared distance less the row's own norm, which argmin does not need. */
    private static NDArray assignmentScores(NDArray x, double[] centers, int k, NDManager scope) {
        int d = (int) x.getShape().get(1);
        double[] scaled = new double[centers.length];
        double[] norms = new double[k];
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < d; j++) {
                double v = centers[c * d + j];
                scaled[c * d + j] = -2 * v;
                norms[c] += v * v;
            }
        }
        NDArray minusTwoC = OwnedArrays.of(scope, scaled, new Shape(k, d)).toType(x.getDataType(), false); // [k, d]
        return x.matMul(minusTwoC.transpose()).add(OwnedArrays.of(scope, norms).toType(x.getDataType(), false)); // [n, k]
    }

    /**
     * Gives each empty cluster one of the rows farthest from their own centres (farthest first, to the
     * lowest-numbered empty cluster), moving that row's weight out of its cluster, as scikit-learn's
     * {@code _relocate_empty_clusters_dense}. The labels are left as they are, as there.
     */
    private static void relocateEmpty(double[] rows, double[] own, long[] labels, double[] sums, long[] counts, int k, int d) {
        int[] empty = IntStream.range(0, k).filter(c -> counts[c] == 0).toArray();
        long[] far = IntStream.range(0, own.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> own[i]).reversed().thenComparing(i -> i))
                .limit(empty.length).mapToLong(i -> i).toArray();
        for (int e = 0; e < far.length; e++) {
            int from = (int) labels[(int) far[e]];
            int to = empty[e];
            for (int j = 0; j < d; j++) {
                double v = rows[(int) far[e] * d + j];
                sums[from * d + j] -= v;
                sums[to * d + j] = v;
            }
            counts[from]--;
            counts[to] = 1;
        }
    }

    /** An array's values as float64, whatever its type. */
    private static double[] doubles(NDArray a) {
        try (NDArray d = a.toType(DataType.FLOAT64, false)) {
            return d.toDoubleArray();
        }
    }

    /** Running sums in order, as numpy's float64 {@code cumsum}. */
    private static void cumulativeSum(double[] v, double[] out) {
        double s = 0;
        for (int i = 0; i < v.length; i++) {
            s += v[i];
            out[i] = s;
        }
    }

    /** numpy's {@code searchsorted(a, v, side="left")}: the first index whose value is ≥ v. */
    static int searchLeft(double[] sorted, double v) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < v) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double e : v) {
            s += e;
        }
        return s;
    }
}
