package maetok4j.analysis;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.dense.row.decomposition.TriangularSolver_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

import ai.djl.ndarray.NDList;
import maetok4j.nn.TorchScriptNetwork;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * Principal component analysis fitted in float64, with the conventions of scikit-learn's {@code PCA}:
 * covariances normalised by n-1, components sorted by decreasing variance, explained-variance ratios
 * relative to the total variance (the trace of the covariance, so they are right for a truncated fit too).
 * Each component's sign makes its largest-magnitude entry positive (scikit-learn ≥ 1.5's convention;
 * earlier versions chose signs from the data's scores).
 *
 * <p>Rows are streamed into an {@link Accumulator}, which keeps the mean and the d×d scatter matrix
 * (8·d² bytes on the Java heap, so d up to a few thousand). The components then come from a dense
 * symmetric eigen-decomposition (EJML for small d, LAPACK in libtorch from {@link #LAPACK_FROM} on: about 20 s at
 * d = 4096 on two cores) when d ≤ 1024 or more than d/8 components are wanted, and otherwise from block subspace iteration with Rayleigh–Ritz on the
 * covariance (float64 DJL matmuls), iterated until every kept pair's residual ‖Cv − λv‖ is below 1e-8 of
 * the largest variance: variances are then exact to rounding, components to about 1e-8 divided by their
 * relative gap to the next variance.
 */
public final class Pca {

    /** Largest dimension for which the dense decomposition is always used (EJML takes seconds there). */
    static final int DENSE_LIMIT = 1024;
    static final double TOLERANCE = 1e-8;
    static final int MAX_ITERATIONS = 2000;
    static final int RITZ_PERIOD = 4;

    private final int dimension;
    private final long samples;
    private final double[] mean;
    // [k, d] row-major
    private final double[] components;
    private final double[] variance;
    private final double totalVariance;

    private Pca(int dimension, long samples, double[] mean, double[] components, double[] variance, double totalVariance) {
        this.dimension = dimension;
        this.samples = samples;
        this.mean = mean;
        this.components = components;
        this.variance = variance;
        this.totalVariance = totalVariance;
    }

    /** Streams rows and fits; holds only Java arrays, so it needs no closing. */
    public static final class Accumulator {

        private final int dimension;
        private long count;
        // rows are accumulated about a shift (the first batch's mean) to keep the scatter's cancellation small
        private double[] shift;
        private final double[] sum;
        private final double[] scatter;

        public Accumulator(int dimension) {
            if (dimension < 1) {
                throw new IllegalArgumentException("dimension must be positive, got " + dimension);
            }
            if ((long) dimension * dimension > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("dimension " + dimension + " is too large for a dense covariance");
            }
            this.dimension = dimension;
            this.sum = new double[dimension];
            this.scatter = new double[dimension * dimension];
        }

        /** Adds rows [n, d] of any floating type; they are converted to float64 first. */
        public void add(NDArray rows) {
            Shape s = rows.getShape();
            if (s.dimension() != 2 || s.get(1) != dimension) {
                throw new IllegalArgumentException("expected rows [n, " + dimension + "], got " + s);
            }
            if (s.get(0) == 0) {
                return;
            }
            try (NDManager tmp = rows.getManager().newSubManager()) {
                NDArray x = rows.toType(DataType.FLOAT64, true); // [n, d]
                x.attach(tmp);
                if (shift == null) {
                    shift = x.mean(new int[] {0}).toDoubleArray();
                }
                NDArray xc = x.sub(OwnedArrays.of(tmp, shift)); // [n, d]
                double[] colSum = xc.sum(new int[] {0}).toDoubleArray();
                double[] xtx = xc.transpose().matMul(xc).toDoubleArray(); // [d, d]
                for (int j = 0; j < dimension; j++) {
                    sum[j] += colSum[j];
                }
                for (int i = 0; i < xtx.length; i++) {
                    scatter[i] += xtx[i];
                }
            }
            count += s.get(0);
        }

        public long count() {
            return count;
        }

        /** Fits at most {@code maxComponents} components; the subspace solver starts from a fixed seed. */
        public Pca fit(int maxComponents) {
            return fit(maxComponents, new SplittableRandom(0x5ca1ab1eL));
        }

        /**
         * Fits the {@code maxComponents} leading components ({@code ≤ min(n, d)}, as scikit-learn requires);
         * {@code rng} draws the subspace solver's starting block (the result does not depend on it beyond
         * the tolerance).
         */
        public Pca fit(int maxComponents, RandomGenerator rng) {
            return fit(maxComponents, rng, dimension <= DENSE_LIMIT || maxComponents > dimension / 8);
        }

        Pca fit(int maxComponents, RandomGenerator rng, boolean dense) {
            if (count < 2) {
                throw new IllegalStateException("PCA needs at least two rows, got " + count);
            }
            if (maxComponents < 1 || maxComponents > Math.min(count, dimension)) {
                throw new IllegalArgumentException("components must be in [1, min(n, d)] = [1, "
                        + Math.min(count, dimension) + "], got " + maxComponents);
            }
            int d = dimension;
            double[] m = new double[d];
            double[] mean = new double[d];
            for (int j = 0; j < d; j++) {
                m[j] = sum[j] / count;
                mean[j] = shift[j] + m[j];
            }
            // covariance = (Σ(x-s)(x-s)ᵀ - n·(μ-s)(μ-s)ᵀ) / (n-1)
            double[] cov = new double[d * d];
            double total = 0;
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d; j++) {
                    cov[i * d + j] = (scatter[i * d + j] - count * m[i] * m[j]) / (count - 1);
                }
                total += cov[i * d + i];
            }
            double[][] pairs = dense ? denseEigen(cov, d, maxComponents) : subspaceEigen(cov, d, maxComponents, rng);
            double[] vectors = pairs[1];
            for (int c = 0; c < maxComponents; c++) {
                fixSign(vectors, c * d, d);
            }
            return new Pca(d, count, mean, vectors, pairs[0], total);
        }
    }

    /**
     * The leading k eigenpairs {values[k], vectors[k·d]} of a symmetric matrix: EJML below {@link #LAPACK_FROM}
     * dimensions, LAPACK's solver in libtorch above (EJML's single-threaded Java takes over ten minutes at d = 4096).
     */
    static double[][] denseEigen(double[] a, int d, int k) {
        return d >= LAPACK_FROM ? lapackEigen(a, d, k) : ejmlEigen(a, d, k);
    }

    /** From this dimension on, dense eigen-decompositions go to libtorch's LAPACK (below, EJML takes seconds at most). */
    static final int LAPACK_FROM = DENSE_LIMIT + 1;
    private static final String EIGH = "/maetok4j/analysis/eigh.pt";

    /**
     * {@code torch.linalg.eigh} through a TorchScript function shipped with the library ({@code eigh.pt}, written by
     * {@code make_eigh.py}): DJL exposes no linear algebra, but libtorch carries LAPACK.
     */
    static double[][] lapackEigen(double[] a, int d, int k) {
        Path file;
        try (InputStream in = Pca.class.getResourceAsStream(EIGH)) {
            if (in == null) {
                throw new IllegalStateException("the library's " + EIGH + " is missing");
            }
            file = Files.createTempFile("maetok-eigh", ".pt");
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stage " + EIGH + ": " + e.getMessage(), e);
        }
        try (TorchScriptNetwork eigh = TorchScriptNetwork.load(file); NDManager mm = NDManager.newBaseManager()) {
            NDList out = eigh.infer(OwnedArrays.of(mm, a, new Shape(d, d))); // values [d] ascending, vectors [d, d] as columns
            out.attach(mm);
            double[] ascending = out.get(0).toDoubleArray();
            // rows of the transposed vectors are the eigenvectors; the last k, largest first
            double[] vectors = out.get(1).transpose().flip(0).get("0:" + k).toDoubleArray(); // [k, d]
            double[] values = new double[k];
            for (int c = 0; c < k; c++) {
                values[c] = ascending[d - 1 - c];
            }
            return new double[][] {values, vectors};
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temporary file of 1.5 KB; the OS cleans its temp folder
            }
        }
    }

    /** The leading k eigenpairs by EJML's symmetric decomposition. */
    static double[][] ejmlEigen(double[] a, int d, int k) {
        DMatrixRMaj m = new DMatrixRMaj(d, d);
        System.arraycopy(a, 0, m.data, 0, a.length);
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, true, true);
        if (!eig.decompose(m)) {
            throw new IllegalStateException("eigen-decomposition failed");
        }
        Integer[] order = new Integer[d];
        double[] values = new double[d];
        for (int i = 0; i < d; i++) {
            order[i] = i;
            values[i] = eig.getEigenvalue(i).getReal();
        }
        Arrays.sort(order, (x, y) -> Double.compare(values[y], values[x]));
        double[] outValues = new double[k];
        double[] outVectors = new double[k * d];
        for (int c = 0; c < k; c++) {
            outValues[c] = values[order[c]];
            System.arraycopy(eig.getEigenVector(order[c]).data, 0, outVectors, c * d, d);
        }
        return new double[][] {outValues, outVectors};
    }

    /**
     * The leading k eigenpairs by block subspace iteration: Y = A·Q, Rayleigh–Ritz on QᵀY, Q = orth(Y),
     * with a block of k + max(16, k/2) columns so that the k-th pair converges at a useful rate.
     */
    static double[][] subspaceEigen(double[] a, int d, int k, RandomGenerator rng) {
        int b = Math.min(d, k + Math.max(16, k / 2));
        double[] start = new double[d * b];
        for (int i = 0; i < start.length; i++) {
            start[i] = rng.nextGaussian();
        }
        try (NDManager mm = NDManager.newBaseManager()) {
            NDArray matrix = OwnedArrays.of(mm, a, new Shape(d, d)); // [d, d]
            NDArray q = orthonormalize(OwnedArrays.of(mm, start, new Shape(d, b))); // [d, b]
            double[] theta = null;
            double[] w = null;
            for (int it = 0; it < MAX_ITERATIONS; it++) {
                try (NDManager step = mm.newSubManager()) {
                    q.attach(step);
                    NDArray y = matrix.matMul(q); // [d, b]
                    y.attach(step);
                    boolean last = it == MAX_ITERATIONS - 1;
                    // Rayleigh–Ritz costs three b×b eigen-decompositions' worth of Java time: only every few steps
                    if (it % RITZ_PERIOD != RITZ_PERIOD - 1 && !last) {
                        q = orthonormalize(y);
                        q.attach(mm);
                        continue;
                    }
                    // small b×b problems: EJML in-process (a libtorch call per iteration costs more than it saves)
                    double[][] ritz = ejmlEigen(symmetric(q.transpose().matMul(y).toDoubleArray(), b), b, b);
                    theta = ritz[0];
                    // ritz[1] holds eigenvectors as rows, i.e. Wᵀ [b, b]
                    NDArray wt = OwnedArrays.of(step, ritz[1], new Shape(b, b));
                    NDArray qw = q.matMul(wt.transpose()); // [d, b]
                    NDArray yw = y.matMul(wt.transpose()); // [d, b]
                    double[] residual = yw.sub(qw.mul(OwnedArrays.of(step, theta, new Shape(1, b)))).square()
                            .sum(new int[] {0}).sqrt().toDoubleArray();
                    double worst = 0;
                    for (int c = 0; c < k; c++) {
                        worst = Math.max(worst, residual[c]);
                    }
                    if (worst <= TOLERANCE * Math.abs(theta[0]) || last) {
                        w = qw.transpose().toDoubleArray(); // [b, d]
                        break;
                    }
                    q = orthonormalize(yw);
                    q.attach(mm);
                }
            }
            return new double[][] {Arrays.copyOf(theta, k), Arrays.copyOf(w, k * d)};
        }
    }

    /**
     * An orthonormal basis of y's columns [d, b]: Cholesky QR twice (CholQR2), which is accurate while y's
     * condition number is below about 1e8. When the Gram matrix is not numerically positive definite (a
     * rank-deficient block), SVQB twice instead: directions with no weight are scaled up from rounding
     * noise and made orthogonal by the second pass, so the block still gets b orthonormal columns.
     */
    private static NDArray orthonormalize(NDArray y) {
        NDArray q = y;
        boolean cholesky = true;
        for (int pass = 0; pass < 2; pass++) {
            int b = (int) q.getShape().get(1);
            double[] gram = symmetric(q.transpose().matMul(q).toDoubleArray(), b);
            double[] factor = cholesky ? inverseCholeskyTransposed(gram, b) : null;
            if (factor == null) {
                cholesky = false;
                factor = svqbFactor(gram, b);
            }
            NDArray next = q.matMul(OwnedArrays.of(q.getManager(), factor, new Shape(b, b)));
            if (q != y) {
                q.close();
            }
            q = next;
        }
        return q;
    }

    /** L⁻ᵀ for the Cholesky factor G = L·Lᵀ, or null when G is not numerically positive definite. */
    private static double[] inverseCholeskyTransposed(double[] gram, int b) {
        DMatrixRMaj g = new DMatrixRMaj(b, b);
        System.arraycopy(gram, 0, g.data, 0, gram.length);
        CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(b, true);
        if (!chol.decompose(g)) {
            return null;
        }
        double[] l = chol.getT(null).data;
        double max = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < b; i++) {
            max = Math.max(max, Math.abs(l[i * b + i]));
            min = Math.min(min, Math.abs(l[i * b + i]));
        }
        // the diagonal bounds cond(y) from below: beyond ~1e7 one CholQR pass loses too much orthogonality
        if (!(min > max * 1e-7)) {
            return null;
        }
        TriangularSolver_DDRM.invertLower(l, b);
        double[] out = new double[b * b];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j <= i; j++) {
                out[j * b + i] = l[i * b + j];
            }
        }
        return out;
    }

    /** V·diag(λ^-1/2) from the Gram matrix's eigen-decomposition, with λ floored far below the largest. */
    private static double[] svqbFactor(double[] gram, int b) {
        double[][] g = ejmlEigen(gram, b, b);
        double floor = Math.max(g[0][0], Double.MIN_NORMAL) * 1e-28;
        double[] scaled = new double[b * b];
        for (int c = 0; c < b; c++) {
            double s = 1 / Math.sqrt(Math.max(g[0][c], floor));
            for (int r = 0; r < b; r++) {
                // g[1] holds Vᵀ
                scaled[r * b + c] = g[1][c * b + r] * s;
            }
        }
        return scaled;
    }

    private static double[] symmetric(double[] a, int n) {
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double v = 0.5 * (a[i * n + j] + a[j * n + i]);
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        return a;
    }

    private static void fixSign(double[] v, int offset, int d) {
        int arg = offset;
        for (int i = offset; i < offset + d; i++) {
            if (Math.abs(v[i]) > Math.abs(v[arg])) {
                arg = i;
            }
        }
        if (v[arg] < 0) {
            for (int i = offset; i < offset + d; i++) {
                v[i] = -v[i];
            }
        }
    }

    public int dimension() {
        return dimension;
    }

    /** The number of components fitted. */
    public int size() {
        return variance.length;
    }

    public long samples() {
        return samples;
    }

    public double[] mean() {
        return mean.clone();
    }

    /** Component c (unit length, d values). */
    public double[] component(int c) {
        return Arrays.copyOfRange(components, c * dimension, (c + 1) * dimension);
    }

    /** The variance along each component (the covariance's eigenvalues, n-1 normalised), decreasing. */
    public double[] explainedVariance() {
        return variance.clone();
    }

    /** The trace of the covariance: the variance of all d dimensions. */
    public double totalVariance() {
        return totalVariance;
    }

    /** Each component's share of the total variance, as scikit-learn's {@code explained_variance_ratio_}. */
    public double[] explainedVarianceRatio() {
        double[] r = new double[variance.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = variance[i] / totalVariance;
        }
        return r;
    }

    /**
     * The number of components scikit-learn keeps for {@code PCA(n_components=fraction)}: the smallest
     * count whose cumulative ratio exceeds {@code fraction}.
     *
     * @throws IllegalStateException when the fitted components do not explain that much
     */
    public int componentsFor(double fraction) {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("fraction must be in (0, 1), got " + fraction);
        }
        double cumulative = 0;
        double[] r = explainedVarianceRatio();
        for (int i = 0; i < r.length; i++) {
            cumulative += r[i];
            if (cumulative > fraction) {
                return i + 1;
            }
        }
        if (r.length == Math.min(samples, dimension)) {
            return r.length;
        }
        throw new IllegalStateException(String.format("the %d fitted components explain %.6f of the variance, not %s",
                r.length, cumulative, fraction));
    }

    /** Scores of rows [n, d] on the first k components: [n, k], computed in float64, in the rows' type. */
    public NDArray transform(NDArray rows, int k) {
        checkK(k);
        Shape s = rows.getShape();
        if (s.dimension() != 2 || s.get(1) != dimension) {
            throw new IllegalArgumentException("expected rows [n, " + dimension + "], got " + s);
        }
        NDManager owner = rows.getManager();
        try (NDManager tmp = owner.newSubManager()) {
            NDArray x = rows.toType(DataType.FLOAT64, true); // [n, d]
            x.attach(tmp);
            NDArray w = OwnedArrays.of(tmp, Arrays.copyOf(components, k * dimension), new Shape(k, dimension));
            NDArray out = x.sub(OwnedArrays.of(tmp, mean)).matMul(w.transpose()).toType(rows.getDataType(), false); // [n, k]
            out.attach(owner);
            return out;
        }
    }

    /** Rows [n, d] from scores [n, k] on the first k components, computed in float64, in the scores' type. */
    public NDArray inverseTransform(NDArray codes, int k) {
        checkK(k);
        Shape s = codes.getShape();
        if (s.dimension() != 2 || s.get(1) != k) {
            throw new IllegalArgumentException("expected codes [n, " + k + "], got " + s);
        }
        NDManager owner = codes.getManager();
        try (NDManager tmp = owner.newSubManager()) {
            NDArray z = codes.toType(DataType.FLOAT64, true); // [n, k]
            z.attach(tmp);
            NDArray w = OwnedArrays.of(tmp, Arrays.copyOf(components, k * dimension), new Shape(k, dimension));
            NDArray out = z.matMul(w).add(OwnedArrays.of(tmp, mean)).toType(codes.getDataType(), false); // [n, d]
            out.attach(owner);
            return out;
        }
    }

    private void checkK(int k) {
        if (k < 1 || k > size()) {
            throw new IllegalArgumentException("k must be in [1, " + size() + "], got " + k);
        }
    }
}
