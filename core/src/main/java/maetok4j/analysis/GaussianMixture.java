package maetok4j.analysis;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.decomposition.TriangularSolver_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * A Gaussian mixture fitted by expectation–maximisation, with the semantics of scikit-learn 1.2's
 * {@code GaussianMixture} (covariance types {@code "diag"} and {@code "full"}, {@code init_params="kmeans"}):
 *
 * <ul>
 *   <li>each restart starts from the hard responsibilities of a k-means clustering (greedy k-means++ seeding,
 *       then Lloyd iterations; see {@link KMeans}); its weights are then {@code nk / n};</li>
 *   <li>each iteration is an E-step on the current parameters, whose mean log-likelihood per sample is the
 *       iteration's lower bound, then an M-step: {@code nk = Σ resp + 10·eps}, weights {@code nk / Σ nk},
 *       means {@code respᵀx / nk}, covariances about those means plus {@code regCovar} on the diagonal;</li>
 *   <li>a restart stops when the lower bound changes by less than the tolerance, or after maxIterations;
 *       the restart with the highest final lower bound is kept;</li>
 *   <li>components are stored as precision Cholesky factors (upper triangular {@code U} with
 *       {@code UᵀΣU = I}; for "diag" the vector {@code 1/√σ²}), and log-densities use
 *       {@code log det U}, as scikit-learn's {@code precisions_cholesky_}.</li>
 * </ul>
 *
 * <p>All arithmetic is float64. The heavy work is libtorch matmuls over all rows: "diag" log-densities are one
 * {@code [x², x]·W} product; "full" ones are {@code x·U} for a few components at a time (never [K, n, d]),
 * and the d×d Cholesky factorisations and triangular inverses are EJML's. In the "full" M-step, rows whose
 * responsibility for component k is below {@value #NEGLIGIBLE_SHARE}·nk/n are left out of its covariance
 * product when that skips most rows: the weight left out is below {@value #NEGLIGIBLE_SHARE}·nk, so the
 * covariance moves by less than that fraction of the farthest left-out row's squared distance over nk, and the
 * step costs about one pass over the rows instead of K when components are well separated.
 *
 * <p>Random draws (k-means++ candidates) come from {@code Config.seed}: restart r uses the r-th
 * {@link SplittableRandom#split()} of {@code new SplittableRandom(seed)}, so the same seed gives the same
 * model. The draws are not numpy's, so a model matches scikit-learn's in quality, not bit for bit.
 * Instances are immutable and hold only Java arrays.
 */
public final class GaussianMixture {

    /** Covariance structure of each component, as scikit-learn's {@code covariance_type}. */
    public enum Covariance {
        /** A diagonal covariance per component. */
        DIAG,
        /** A full covariance matrix per component. */
        FULL;

        /** {@code "diag"} or {@code "full"}, in any case. */
        public static Covariance parse(String s) {
            if (s != null) {
                switch (s.trim().toLowerCase(Locale.ROOT)) {
                    case "diag":
                        return DIAG;
                    case "full":
                        return FULL;
                    default:
                        break;
                }
            }
            throw new IllegalArgumentException("covariance type must be \"diag\" or \"full\", got " + (s == null ? "null" : "\"" + s + "\""));
        }

        /** scikit-learn's spelling: {@code "diag"} or {@code "full"}. */
        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Fitting settings, named after scikit-learn's: {@code n_components}, {@code covariance_type}, {@code n_init},
     * {@code tol}, {@code max_iter}, {@code reg_covar}, {@code random_state}.
     */
    public record Config(int components, Covariance covariance, int restarts, double tolerance, int maxIterations,
            double regCovar, long seed) {

        public Config {
            if (components < 1) {
                throw new IllegalArgumentException("components must be ≥ 1, got " + components);
            }
            if (covariance == null) {
                throw new IllegalArgumentException("covariance type is required");
            }
            if (restarts < 1) {
                throw new IllegalArgumentException("restarts must be ≥ 1, got " + restarts);
            }
            if (!(tolerance > 0) || Double.isInfinite(tolerance)) {
                throw new IllegalArgumentException("tolerance must be positive and finite, got " + tolerance);
            }
            if (maxIterations < 1) {
                throw new IllegalArgumentException("maxIterations must be ≥ 1, got " + maxIterations);
            }
            if (!(regCovar >= 0) || Double.isInfinite(regCovar)) {
                throw new IllegalArgumentException("regCovar must be ≥ 0 and finite, got " + regCovar);
            }
        }

        /** scikit-learn's defaults: one restart, tol 1e-3, 100 iterations, reg_covar 1e-6, seed 0. */
        public static Config defaults(int components, Covariance covariance) {
            return new Config(components, covariance, 1, 1e-3, 100, 1e-6, 0);
        }

        public Config withRestarts(int r) {
            return new Config(components, covariance, r, tolerance, maxIterations, regCovar, seed);
        }

        public Config withSeed(long s) {
            return new Config(components, covariance, restarts, tolerance, maxIterations, regCovar, s);
        }

        public Config withTolerance(double t) {
            return new Config(components, covariance, restarts, t, maxIterations, regCovar, seed);
        }

        public Config withMaxIterations(int m) {
            return new Config(components, covariance, restarts, tolerance, m, regCovar, seed);
        }
    }

    /** numpy's {@code 10 * np.finfo(np.float64).eps}, added to every nk so that empty components stay finite. */
    static final double NK_EPSILON = 10 * Math.ulp(1.0);
    /** Rows with a responsibility below this share of nk/n are left out of a "full" covariance product. */
    static final double NEGLIGIBLE_SHARE = 1e-12;
    /** The row subset is gathered only when it skips at least this fraction of the rows. */
    static final double GATHER_BELOW = 0.5;
    /** Budget for one block of "full" projections [n, c·d] in float64. */
    static final long BLOCK_BYTES = 256L << 20;
    private static final double LOG_2PI = Math.log(2 * Math.PI);
    private static final String ILL_DEFINED = "fitting the mixture failed: component %d has an ill-defined covariance "
            + "(singleton or collapsed samples); use fewer components or a larger regCovar (now %s)";

    private final Covariance covariance;
    private final int components;
    private final int dimension;
    private final Parameters parameters;
    private final int iterations;
    private final boolean converged;
    private final double lowerBound;
    private final double[] lowerBounds;

    /**
     * One model's state in Java arrays: weights [K], means [K, d], and precision Cholesky factors
     * ([K, d] for "diag", [K, d, d] upper triangular for "full"), all row-major, with log det U [K].
     */
    private record Parameters(double[] weights, double[] means, double[] precisionCholesky, double[] logDet) {}

    private GaussianMixture(Covariance covariance, int components, int dimension, Parameters parameters, int iterations,
            boolean converged, double[] lowerBounds) {
        this.covariance = covariance;
        this.components = components;
        this.dimension = dimension;
        this.parameters = parameters;
        this.iterations = iterations;
        this.converged = converged;
        this.lowerBounds = lowerBounds;
        this.lowerBound = lowerBounds[lowerBounds.length - 1];
    }

    /** {@link #fit(NDArray, Config, IntConsumer)} without progress reports. */
    public static GaussianMixture fit(NDArray x, Config config) {
        return fit(x, config, i -> {});
    }

    /**
     * Fits rows {@code x} [n, d] of any floating type (computed in float64), keeping the best of
     * {@code config.restarts()} runs by final lower bound; {@code x} is left as it was and no native memory is
     * kept. {@code onIteration} receives the 1-based number of each finished EM iteration of the current
     * restart.
     *
     * @throws IllegalArgumentException if x is not [n, d] with n ≥ max(2, components), or has non-finite values
     * @throws IllegalStateException if a covariance is not positive definite (only possible with a tiny regCovar)
     */
    public static GaussianMixture fit(NDArray x, Config config, IntConsumer onIteration) {
        int k = config.components();
        Shape s = x.getShape();
        if (s.dimension() != 2 || s.get(1) < 1) {
            throw new IllegalArgumentException("expected rows [n, d], got " + s);
        }
        if (s.get(0) < 2 || s.get(0) < k) {
            throw new IllegalArgumentException("need at least max(2, components) rows: got n = " + s.get(0)
                    + " rows for components = " + k);
        }
        int d = (int) s.get(1);
        SplittableRandom root = new SplittableRandom(config.seed());
        try (NDManager scope = x.getManager().newSubManager()) {
            NDArray x64 = floatRows(x, scope); // [n, d]
            if (!Double.isFinite(x64.sum().getDouble())) {
                throw new IllegalArgumentException("rows contain NaN or infinite values");
            }
            // "diag" works on [x², x] [n, 2d]: one product gives both of the M-step's sums and the E-step's form
            NDArray features = config.covariance() == Covariance.DIAG
                    ? NDArrays.concat(new NDList(x64.square(), x64), 1) : x64;
            GaussianMixture best = null;
            for (int r = 0; r < config.restarts(); r++) {
                GaussianMixture run = run(x64, features, config, d, root.split(), onIteration);
                if (best == null || run.lowerBound > best.lowerBound) {
                    best = run;
                }
            }
            return best;
        }
    }

    private static GaussianMixture run(NDArray x, NDArray features, Config config, int d, SplittableRandom rng,
            IntConsumer onIteration) {
        int k = config.components();
        Parameters p;
        try (NDManager scope = x.getManager().newSubManager()) {
            NDArray labels = OwnedArrays.of(scope, KMeans.fit(x, k, rng).labels()); // [n]
            NDArray resp = labels.oneHot(k, DataType.FLOAT64); // [n, K]
            p = maximise(x, features, resp, config, d, true);
        }
        double[] bounds = new double[config.maxIterations()];
        double bound = Double.NEGATIVE_INFINITY;
        boolean converged = false;
        int iteration = 0;
        while (iteration < config.maxIterations()) {
            double previous = bound;
            try (NDManager scope = x.getManager().newSubManager()) {
                NDArray[] step = expect(x, features, p, config.covariance(), k, d, scope);
                bound = step[0].getDouble();
                p = maximise(x, features, step[1], config, d, false);
            }
            bounds[iteration++] = bound;
            onIteration.accept(iteration);
            if (Math.abs(bound - previous) < config.tolerance()) {
                converged = true;
                break;
            }
        }
        return new GaussianMixture(config.covariance(), k, d, p, iteration, converged, Arrays.copyOf(bounds, iteration));
    }

    /** Float64 rows in {@code scope}, copied so that {@code x} is never attached elsewhere. */
    private static NDArray floatRows(NDArray x, NDManager scope) {
        NDArray x64 = x.toType(DataType.FLOAT64, true);
        x64.attach(scope);
        return x64;
    }

    /** E-step: {mean log-likelihood (0-d), responsibilities [n, K]} in {@code scope}. */
    private static NDArray[] expect(NDArray x, NDArray features, Parameters p, Covariance cov, int k, int d, NDManager scope) {
        NDArray weighted = weightedLogDensity(x, features, p, cov, k, d, scope); // [n, K]
        NDArray peak = weighted.max(new int[] {1}, true); // [n, 1]
        NDArray scaled = weighted.sub(peak).exp(); // [n, K]
        NDArray total = scaled.sum(new int[] {1}, true); // [n, 1]
        NDArray logNorm = total.log().add(peak); // [n, 1]
        return new NDArray[] {logNorm.mean(), scaled.div(total)};
    }

    /** log(w_k) + log N(x | μ_k, Σ_k) [n, K] in {@code scope}. */
    private static NDArray weightedLogDensity(NDArray x, NDArray features, Parameters p, Covariance cov, int k, int d,
            NDManager scope) {
        double[] offset = new double[k]; // [K]
        for (int c = 0; c < k; c++) {
            offset[c] = Math.log(p.weights()[c]) + p.logDet()[c] - 0.5 * d * LOG_2PI;
        }
        if (cov == Covariance.DIAG) {
            features.tempAttach(scope);
            double[] w = diagCoefficients(p, k, d); // [2d, K]
            for (int c = 0; c < k; c++) {
                double m = 0;
                for (int j = 0; j < d; j++) {
                    double prec = square(p.precisionCholesky()[c * d + j]);
                    m += square(p.means()[c * d + j]) * prec;
                }
                offset[c] -= 0.5 * m;
            }
            return features.matMul(OwnedArrays.of(scope, w, new Shape(2L * d, k))).add(OwnedArrays.of(scope, offset));
        }
        NDArray mahalanobis = fullMahalanobis(x, p, k, d, scope); // [n, K]
        return OwnedArrays.mul(mahalanobis, -0.5).add(OwnedArrays.of(scope, offset));
    }

    /** Coefficients W [2d, K] with {@code [x², x]·W = -½ Σ_j prec·x² + Σ_j μ·prec·x} for each component. */
    private static double[] diagCoefficients(Parameters p, int k, int d) {
        double[] w = new double[2 * d * k];
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < d; j++) {
                double prec = square(p.precisionCholesky()[c * d + j]);
                w[j * k + c] = -0.5 * prec;
                w[(d + j) * k + c] = p.means()[c * d + j] * prec;
            }
        }
        return w;
    }

    /**
     * |x·U_k - μ_k·U_k|² [n, K] in {@code scope}, a block of components at a time: x·[U_a | … | U_b] is one
     * product [n, c·d] within {@link #BLOCK_BYTES}.
     */
    private static NDArray fullMahalanobis(NDArray x, Parameters p, int k, int d, NDManager scope) {
        long n = x.getShape().get(0);
        int block = (int) Math.max(1, Math.min(k, BLOCK_BYTES / (8L * n * d)));
        NDList columns = new NDList();
        for (int first = 0; first < k; first += block) {
            int c = Math.min(block, k - first);
            double[] u = new double[d * c * d]; // [d, c·d]
            double[] shift = new double[c * d]; // [c·d]
            for (int b = 0; b < c; b++) {
                int comp = first + b;
                for (int i = 0; i < d; i++) {
                    double mu = p.means()[comp * d + i];
                    for (int j = i; j < d; j++) {
                        double v = p.precisionCholesky()[(comp * d + i) * d + j];
                        u[i * c * d + b * d + j] = v;
                        shift[b * d + j] += mu * v;
                    }
                }
            }
            // |xU - s|² = |xU|² - 2·x·(U s) + |s|²: the cross term is one thin product, so the [n, c·d] block is
            // only squared and summed, never shifted (a pass over n·c·d values saved)
            double[] us = new double[d * c]; // [d, c]
            double[] ss = new double[c]; // [c]
            for (int b = 0; b < c; b++) {
                for (int i = 0; i < d; i++) {
                    double v = 0;
                    for (int j = i; j < d; j++) {
                        v += u[i * c * d + b * d + j] * shift[b * d + j];
                    }
                    us[i * c + b] = -2 * v;
                    ss[b] += shift[b * d + i] * shift[b * d + i];
                }
            }
            try (NDManager blockScope = scope.newSubManager()) {
                x.tempAttach(blockScope);
                NDArray y = x.matMul(OwnedArrays.of(blockScope, u, new Shape(d, (long) c * d))); // [n, c·d]
                NDArray column = y.muli(y).reshape(n, c, d).sum(new int[] {2}) // [n, c]
                        .add(x.matMul(OwnedArrays.of(blockScope, us, new Shape(d, c)))).add(OwnedArrays.of(blockScope, ss));
                column.attach(scope);
                columns.add(column);
            }
        }
        return columns.size() == 1 ? columns.head() : NDArrays.concat(columns, 1);
    }

    /**
     * M-step from responsibilities [n, K]; {@code initial} divides the weights by n (scikit-learn's
     * {@code _initialize}) instead of by Σ nk ({@code _m_step}).
     */
    private static Parameters maximise(NDArray x, NDArray features, NDArray resp, Config config, int d, boolean initial) {
        int k = config.components();
        long n = x.getShape().get(0);
        try (NDManager scope = resp.getManager().newSubManager()) {
            resp.tempAttach(scope);
            double[] nk = resp.sum(new int[] {0}).toDoubleArray(); // [K]
            double total = 0;
            for (int c = 0; c < k; c++) {
                nk[c] += NK_EPSILON;
                total += nk[c];
            }
            double[] weights = new double[k];
            for (int c = 0; c < k; c++) {
                weights[c] = nk[c] / (initial ? n : total);
            }
            if (config.covariance() == Covariance.DIAG) {
                double[] sums = resp.transpose().matMul(features).toDoubleArray(); // [K, 2d]: Σ r·x², Σ r·x
                return diagParameters(sums, nk, weights, config.regCovar(), k, d);
            }
            double[] means = resp.transpose().matMul(x).toDoubleArray(); // [K, d]
            for (int c = 0; c < k; c++) {
                for (int j = 0; j < d; j++) {
                    means[c * d + j] /= nk[c];
                }
            }
            double[] precChol = new double[k * d * d];
            double[] logDet = new double[k];
            CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(d, true);
            for (int c = 0; c < k; c++) {
                double[] cov = fullCovariance(x, resp, c, Arrays.copyOfRange(means, c * d, c * d + d), nk[c], scope);
                for (int j = 0; j < d; j++) {
                    cov[j * d + j] += config.regCovar();
                }
                logDet[c] = precisionCholesky(cov, d, chol, c, config.regCovar(), precChol, c * d * d);
            }
            return new Parameters(weights, means, precChol, logDet);
        }
    }

    private static Parameters diagParameters(double[] sums, double[] nk, double[] weights, double regCovar, int k, int d) {
        double[] means = new double[k * d];
        double[] precChol = new double[k * d];
        double[] logDet = new double[k];
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < d; j++) {
                double mean = sums[c * 2 * d + d + j] / nk[c];
                double variance = sums[c * 2 * d + j] / nk[c] - mean * mean + regCovar;
                if (!(variance > 0)) {
                    throw new IllegalStateException(String.format(Locale.ROOT, ILL_DEFINED, c, regCovar));
                }
                means[c * d + j] = mean;
                precChol[c * d + j] = 1 / Math.sqrt(variance);
                logDet[c] -= 0.5 * Math.log(variance);
            }
        }
        return new Parameters(weights, means, precChol, logDet);
    }

    /**
     * Σ_i r_ik (x_i - μ)(x_i - μ)ᵀ / nk [d, d] row-major, over the rows whose responsibility is not negligible
     * (at least {@link #NEGLIGIBLE_SHARE}·nk/n) when they are few enough for gathering them to pay.
     */
    private static double[] fullCovariance(NDArray x, NDArray resp, int c, double[] mean, double nk, NDManager parent) {
        long n = x.getShape().get(0);
        int d = mean.length;
        try (NDManager scope = parent.newSubManager()) {
            x.tempAttach(scope);
            resp.tempAttach(scope);
            NDArray r = resp.get(":, " + c); // [n]
            NDArray rows = x;
            NDArray kept = r.gt(NEGLIGIBLE_SHARE * nk / n).nonzero(); // [m, 1]
            long m = kept.getShape().get(0);
            if (m == 0) {
                return new double[d * d];
            }
            if (m < GATHER_BELOW * n) {
                NDArray index = kept.reshape(m); // [m]
                rows = x.get(index); // [m, d]
                r = r.get(index); // [m]
            }
            // √r·(x - μ) in place: one [m, d] buffer, and the product is the Gram matrix of a single operand
            NDArray scaled = rows.sub(OwnedArrays.of(scope, mean)).muli(r.sqrt().reshape(-1, 1)); // [m, d]
            double[] cov = scaled.transpose().matMul(scaled).toDoubleArray(); // [d, d]
            for (int i = 0; i < cov.length; i++) {
                cov[i] /= nk;
            }
            return cov;
        }
    }

    /**
     * Writes U = L⁻ᵀ for Σ = L·Lᵀ (upper triangular, row-major) into {@code out} at {@code at} and returns
     * log det U = -Σ log L_ii.
     */
    private static double precisionCholesky(double[] cov, int d, CholeskyDecomposition_F64<DMatrixRMaj> chol, int component,
            double regCovar, double[] out, int at) {
        DMatrixRMaj a = DMatrixRMaj.wrap(d, d, cov);
        if (!chol.decompose(a)) {
            throw new IllegalStateException(String.format(Locale.ROOT, ILL_DEFINED, component, regCovar));
        }
        double[] l = chol.getT(null).data;
        double logDet = 0;
        for (int i = 0; i < d; i++) {
            double diagonal = l[i * d + i];
            if (!(diagonal > 0)) {
                throw new IllegalStateException(String.format(Locale.ROOT, ILL_DEFINED, component, regCovar));
            }
            logDet -= Math.log(diagonal);
        }
        TriangularSolver_DDRM.invertLower(l, d);
        for (int i = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                out[at + j * d + i] = l[i * d + j];
            }
        }
        return logDet;
    }

    /** Mean log-likelihood per row of {@code x} [n, d], as scikit-learn's {@code score}. */
    public double score(NDArray x) {
        Shape s = x.getShape();
        if (s.dimension() != 2 || s.get(1) != dimension || s.get(0) < 1) {
            throw new IllegalArgumentException("expected rows [n ≥ 1, " + dimension + "], got " + s);
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            NDArray x64 = floatRows(x, scope); // [n, d]
            NDArray features = covariance == Covariance.DIAG ? NDArrays.concat(new NDList(x64.square(), x64), 1) : x64;
            return expect(x64, features, parameters, covariance, components, dimension, scope)[0].getDouble();
        }
    }

    /** Bayesian information criterion on {@code x}: {@code -2·score(x)·n + parameterCount()·ln n}, as scikit-learn's. */
    public double bic(NDArray x) {
        long n = x.getShape().get(0);
        return -2 * score(x) * n + parameterCount() * Math.log(n);
    }

    /** Free parameters, as scikit-learn's {@code _n_parameters()}: covariances, means and K - 1 weights. */
    public long parameterCount() {
        return parameterCount(covariance, components, dimension);
    }

    static long parameterCount(Covariance covariance, long k, long d) {
        long cov = covariance == Covariance.FULL ? k * d * (d + 1) / 2 : k * d;
        return cov + k * d + k - 1;
    }

    public int components() {
        return components;
    }

    public int dimension() {
        return dimension;
    }

    public Covariance covariance() {
        return covariance;
    }

    /** Mixing weights [K], summing to 1. */
    public double[] weights() {
        return parameters.weights().clone();
    }

    /** Means [K·d], row-major [K, d]. */
    public double[] means() {
        return parameters.means().clone();
    }

    /**
     * Precision Cholesky factors, row-major: [K, d] (1/σ) for "diag", [K, d, d] upper triangular U with
     * {@code Σ⁻¹ = U·Uᵀ} for "full", as scikit-learn's {@code precisions_cholesky_}.
     */
    public double[] precisionsCholesky() {
        return parameters.precisionCholesky().clone();
    }

    /** EM iterations of the kept restart, as scikit-learn's {@code n_iter_}. */
    public int iterations() {
        return iterations;
    }

    /** Whether the kept restart stopped by the tolerance rather than by maxIterations. */
    public boolean converged() {
        return converged;
    }

    /** The kept restart's final lower bound (mean log-likelihood per row), as scikit-learn's {@code lower_bound_}. */
    public double lowerBound() {
        return lowerBound;
    }

    /** The kept restart's lower bound after each iteration; EM never lets it decrease beyond rounding. */
    public double[] lowerBounds() {
        return lowerBounds.clone();
    }

    private static double square(double v) {
        return v * v;
    }
}
