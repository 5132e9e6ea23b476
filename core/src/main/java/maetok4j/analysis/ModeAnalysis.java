package maetok4j.analysis;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The MAETok paper's mode count of a latent space (App. B.3): flattened latents, PCA keeping a share of the
 * variance, per-dimension standardisation, then Gaussian mixtures with K components; fewer components for a
 * given held-out likelihood means a simpler, more diffusable latent space.
 *
 * <p>Unlike the reference script ({@code gmm_fit.py}: UMAP by default, standardisation before the split, a
 * diagonal GMM trained by Adam on unconstrained weights), every fitted quantity here comes from the training rows
 * only, and the mixtures are fitted by EM (scikit-learn's estimator; see {@link GaussianMixture}).
 */
public final class ModeAnalysis {

    /** PCA to the fewest components explaining more than {@code variance}, or to {@code dims} components, or none. */
    public record Reduction(double variance, int dims) {
        public Reduction {
            if (variance != 0 && !(variance > 0 && variance < 1)) {
                throw new IllegalArgumentException("PCA variance share must be in (0, 1), got " + variance);
            }
            if (dims < 0) {
                throw new IllegalArgumentException("PCA dimensions must be positive, got " + dims);
            }
            if (variance != 0 && dims != 0) {
                throw new IllegalArgumentException("give a PCA variance share or a dimension count, not both");
            }
        }

        public static Reduction keepVariance(double share) {
            return new Reduction(share, 0);
        }

        public static Reduction toDimensions(int dims) {
            if (dims < 1) {
                throw new IllegalArgumentException("PCA dimensions must be positive, got " + dims);
            }
            return new Reduction(0, dims);
        }

        public static Reduction none() {
            return new Reduction(0, 0);
        }

        public boolean isNone() {
            return variance == 0 && dims == 0;
        }

        @Override
        public String toString() {
            return isNone() ? "none" : variance != 0 ? "pca " + variance + " of the variance" : "pca " + dims + " dims";
        }
    }

    public record Options(List<Integer> components, List<GaussianMixture.Covariance> covariances, Reduction reduction,
            boolean standardize, int restarts, double tolerance, int maxIterations, double regCovar, long seed) {
        public Options {
            components = List.copyOf(components);
            covariances = List.copyOf(covariances);
            if (components.isEmpty() || components.stream().anyMatch(k -> k < 1)) {
                throw new IllegalArgumentException("component counts must be a non-empty list of positive numbers, got " + components);
            }
            if (covariances.isEmpty()) {
                throw new IllegalArgumentException("give at least one covariance type");
            }
            // the mixture's own Config validates the rest when the first fit is made
            new GaussianMixture.Config(components.get(0), covariances.get(0), restarts, tolerance, maxIterations, regCovar, seed);
        }
    }

    /**
     * One mixture: held-out and training negative log-likelihood per dimension (nats), BIC on the training rows
     * (scikit-learn's: −2·LL + p·ln n), the number of free parameters, and the EM run.
     */
    public record Fit(int k, GaussianMixture.Covariance covariance, double nllPerDim, double trainNllPerDim, double bic,
            long parameters, int iterations, boolean converged, double seconds) {}

    /**
     * @param dimension the dimension the mixtures see (after PCA)
     * @param explainedVariance the share of the training variance the PCA keeps (1 without PCA)
     */
    public record Result(int trainRows, int testRows, int inputDimension, int dimension, double explainedVariance,
            boolean standardized, List<Fit> fits) {}

    private ModeAnalysis() {}

    /**
     * Runs the pipeline on flattened latents {@code train} [n, D] and {@code test} [m, D]; {@code onFit} hears of
     * each mixture as it is done, {@code onIteration} of each EM iteration.
     */
    public static Result run(NDArray train, NDArray test, Options o, Consumer<Fit> onFit, java.util.function.IntConsumer onIteration) {
        Shape s = train.getShape();
        if (s.dimension() != 2 || test.getShape().dimension() != 2 || test.getShape().get(1) != s.get(1)) {
            throw new IllegalArgumentException("expected train [n, D] and test [m, D], got " + s + " and " + test.getShape());
        }
        int n = (int) s.get(0);
        int d = (int) s.get(1);
        int maxK = o.components().stream().mapToInt(Integer::intValue).max().orElseThrow();
        if (n < maxK) {
            throw new IllegalArgumentException(n + " training rows cannot fit a mixture of " + maxK + " components");
        }
        try (NDManager tmp = train.getManager().newSubManager()) {
            NDArray x = train.toType(DataType.FLOAT64, true); // [n, D]
            NDArray y = test.toType(DataType.FLOAT64, true); // [m, D]
            x.attach(tmp);
            y.attach(tmp);
            double explained = 1;
            if (!o.reduction().isNone()) {
                Pca pca = fitPca(x, o.reduction());
                int k = o.reduction().dims() != 0 ? o.reduction().dims() : pca.componentsFor(o.reduction().variance());
                double[] ratio = pca.explainedVarianceRatio();
                explained = 0;
                for (int i = 0; i < k; i++) {
                    explained += ratio[i];
                }
                x = pca.transform(x, k); // [n, k]
                y = pca.transform(y, k); // [m, k]
            }
            if (o.standardize()) {
                Standardizer z = Standardizer.fit(x);
                x = z.transform(x);
                y = z.transform(y);
            }
            int dim = (int) x.getShape().get(1);
            List<Fit> fits = new ArrayList<>();
            for (GaussianMixture.Covariance c : o.covariances()) {
                for (int k : o.components()) {
                    long start = System.nanoTime();
                    GaussianMixture gmm = GaussianMixture.fit(x, new GaussianMixture.Config(k, c, o.restarts(), o.tolerance(),
                            o.maxIterations(), o.regCovar(), o.seed()), onIteration);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    Fit f = new Fit(k, c, -gmm.score(y) / dim, -gmm.score(x) / dim, gmm.bic(x), gmm.parameterCount(), gmm.iterations(),
                            gmm.converged(), seconds);
                    fits.add(f);
                    onFit.accept(f);
                }
            }
            return new Result(n, (int) test.getShape().get(0), d, dim, explained, o.standardize(), fits);
        }
    }

    /**
     * PCA on the training rows with as many components as the reduction needs. For a variance share the count is
     * not known in advance: a dense fit takes all components up to {@link #DENSE_UP_TO} dimensions; beyond, the
     * leading block is doubled until it explains enough.
     */
    static final int DENSE_UP_TO = 4096;

    static Pca fitPca(NDArray x, Reduction r) {
        int n = (int) x.getShape().get(0);
        int d = (int) x.getShape().get(1);
        int max = Math.min(n, d);
        if (r.dims() > max) {
            throw new IllegalArgumentException("PCA to " + r.dims() + " dimensions needs at least as many rows and dimensions; have "
                    + n + " rows of " + d);
        }
        Pca.Accumulator acc = new Pca.Accumulator(d);
        int chunk = Math.max(1, (1 << 24) / d);
        for (int first = 0; first < n; first += chunk) {
            try (NDArray rows = x.get(first + ":" + Math.min(n, first + chunk))) {
                acc.add(rows);
            }
        }
        if (r.dims() != 0) {
            return acc.fit(r.dims());
        }
        // a dense decomposition (LAPACK) takes seconds up to a few thousand dimensions and gives every component
        int k = d <= DENSE_UP_TO ? max : Math.min(max, 256);
        while (true) {
            Pca pca = acc.fit(k);
            try {
                pca.componentsFor(r.variance());
                return pca;
            } catch (IllegalStateException notEnough) {
                if (k == max) {
                    throw notEnough;
                }
                k = Math.min(max, 2 * k);
            }
        }
    }
}
