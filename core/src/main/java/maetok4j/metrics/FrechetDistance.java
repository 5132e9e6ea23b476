package maetok4j.metrics;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The Fréchet distance between two Gaussians fitted to feature sets, d² = ‖μ1−μ2‖² + tr Σ1 + tr Σ2 −
 * 2 tr √(Σ1Σ2): FID when the features are the standard InceptionV3 pool features (rFID against the
 * reconstructed images' source set, gFID against a reference set), computed in float64.
 *
 * <p>pytorch-fid's and the ADM evaluator's {@code calculate_frechet_distance} take tr √(Σ1Σ2) from
 * {@code scipy.linalg.sqrtm(sigma1.dot(sigma2))} (a Schur decomposition of a non-symmetric product), which
 * can return complex parts or fail on the rank-deficient covariances of fewer samples than dimensions, then
 * retry with ε·I added to both. Here the trace comes from symmetric eigen-decompositions only: with
 * Σ1 = VΛVᵀ and W = V·√max(Λ, 0), the product Σ1Σ2 is similar to the symmetric positive semi-definite
 * WᵀΣ2W (= Vᵀ·(S Σ2 S)·V for S = √Σ1 = V√ΛVᵀ), so tr √(Σ1Σ2) = Σ √max(λ(WᵀΣ2W), 0). That agrees with
 * scipy on well-conditioned covariances and stays real and accurate on singular ones, without an ε. Costs
 * two d×d symmetric eigen-decompositions and two d×d products (about 40 s for d = 2048).
 */
public final class FrechetDistance {

    private FrechetDistance() {}

    /** The Fréchet distance between the Gaussians of two feature statistics of the same width. */
    public static double between(FeatureStatistics a, FeatureStatistics b) {
        if (a.dimension() != b.dimension()) {
            throw new IllegalArgumentException("feature widths differ: " + a.dimension() + " vs " + b.dimension());
        }
        return between(a.mean(), a.covariance(), b.mean(), b.covariance(), a.dimension());
    }

    /**
     * The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).
     *
     * @param mu1 [d]
     * @param sigma1 [d, d] row-major, symmetric positive semi-definite (it is symmetrised first)
     * @param mu2 [d]
     * @param sigma2 [d, d] row-major, as sigma1
     */
    public static double between(double[] mu1, double[] sigma1, double[] mu2, double[] sigma2, int d) {
        if (d < 1) {
            throw new IllegalArgumentException("d must be positive, got " + d);
        }
        check(mu1, d, "mu1");
        check(mu2, d, "mu2");
        check(sigma1, d * d, "sigma1");
        check(sigma2, d * d, "sigma2");
        double meanTerm = 0;
        for (int i = 0; i < d; i++) {
            double diff = mu1[i] - mu2[i];
            meanTerm += diff * diff;
        }
        double traces = 0;
        for (int i = 0; i < d; i++) {
            traces += sigma1[i * d + i] + sigma2[i * d + i];
        }
        return meanTerm + traces - 2 * traceSqrtProduct(sigma1, sigma2, d);
    }

    /** tr √(Σ1Σ2) for symmetric positive semi-definite Σ1, Σ2 [d, d], by the method in the class comment. */
    static double traceSqrtProduct(double[] sigma1, double[] sigma2, int d) {
        EigenDecomposition_F64<DMatrixRMaj> first = DecompositionFactory_DDRM.eig(d, true, true);
        if (!first.decompose(symmetric(sigma1, d))) {
            throw new IllegalStateException("the eigen-decomposition of sigma1 did not converge");
        }
        DMatrixRMaj w = new DMatrixRMaj(d, d); // [d, d]: column c = v_c · √max(λ_c, 0)
        for (int c = 0; c < d; c++) {
            double root = Math.sqrt(Math.max(first.getEigenvalue(c).getReal(), 0));
            double[] v = first.getEigenVector(c).data;
            for (int r = 0; r < d; r++) {
                w.data[r * d + c] = v[r] * root;
            }
        }
        DMatrixRMaj sigma2w = CommonOps_DDRM.mult(symmetric(sigma2, d), w, null); // Σ2·W [d, d]
        double[] m = CommonOps_DDRM.multTransA(w, sigma2w, null).data; // Wᵀ·Σ2·W [d, d]
        EigenDecomposition_F64<DMatrixRMaj> second = DecompositionFactory_DDRM.eig(d, false, true);
        if (!second.decompose(symmetric(m, d))) {
            throw new IllegalStateException("the eigen-decomposition of the covariance product did not converge");
        }
        double trace = 0;
        for (int i = 0; i < d; i++) {
            trace += Math.sqrt(Math.max(second.getEigenvalue(i).getReal(), 0));
        }
        return trace;
    }

    /** (A + Aᵀ)/2 as a new matrix: rounding leaves stored and computed covariances slightly asymmetric. */
    private static DMatrixRMaj symmetric(double[] a, int d) {
        DMatrixRMaj out = new DMatrixRMaj(d, d);
        for (int i = 0; i < d; i++) {
            out.data[i * d + i] = a[i * d + i];
            for (int j = i + 1; j < d; j++) {
                double v = 0.5 * (a[i * d + j] + a[j * d + i]);
                out.data[i * d + j] = v;
                out.data[j * d + i] = v;
            }
        }
        return out;
    }

    private static void check(double[] a, int length, String name) {
        if (a.length != length) {
            throw new IllegalArgumentException(name + " must have " + length + " values, got " + a.length);
        }
        for (double v : a) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException(name + " has a non-finite value " + v);
            }
        }
    }
}
