package maetok4j.analysis;

import maetok4j.analysis.GaussianMixture.Config;
import maetok4j.analysis.GaussianMixture.Covariance;
import maetok4j.tensor.Npz;
import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Times {@link GaussianMixture} fits, for comparison with scikit-learn ({@code bench/gmm_sklearn.py} fits the
 * same rows, written with {@link #writeNpy}, with the same settings and timing). Prints nothing.
 */
public final class GmmBenchmark {

    /** One fit: its settings, wall-clock seconds, EM iterations, and mean log-likelihoods per row. */
    public record Result(int components, Covariance covariance, double seconds, int iterations, boolean converged,
            double trainScore, double heldOutScore, int dimension) {

        /** Held-out negative log-likelihood per row and dimension: {@code -heldOutScore / d}. */
        public double heldOutNllPerDimension() {
            return -heldOutScore / dimension;
        }
    }

    private GmmBenchmark() {}

    /**
     * Rows [rows, dimension] row-major from a mixture of {@code clusters} Gaussians with axis-aligned covariances:
     * means N(0, 0.3²) per coordinate, standard deviations uniform in [0.5, 1.5], weights uniform in [0.5, 1.5]
     * then normalised. {@code mixtureSeed} fixes the mixture and {@code sampleSeed} the rows drawn from it, so a
     * train and a held-out set share a mixture through the first seed.
     */
    public static double[] mixtureRows(int rows, int dimension, int clusters, long mixtureSeed, long sampleSeed) {
        if (rows < 1 || dimension < 1 || clusters < 1) {
            throw new IllegalArgumentException("rows, dimension and clusters must be positive, got "
                    + rows + ", " + dimension + ", " + clusters);
        }
        SplittableRandom mix = new SplittableRandom(mixtureSeed);
        double[] means = new double[clusters * dimension];
        double[] scales = new double[clusters * dimension];
        double[] cumulative = new double[clusters];
        double total = 0;
        for (int c = 0; c < clusters; c++) {
            for (int j = 0; j < dimension; j++) {
                means[c * dimension + j] = 0.3 * mix.nextGaussian();
                scales[c * dimension + j] = mix.nextDouble(0.5, 1.5);
            }
            total += mix.nextDouble(0.5, 1.5);
            cumulative[c] = total;
        }
        SplittableRandom draw = new SplittableRandom(sampleSeed);
        double[] out = new double[rows * dimension];
        for (int i = 0; i < rows; i++) {
            int c = Math.min(KMeans.searchLeft(cumulative, draw.nextDouble() * total), clusters - 1);
            for (int j = 0; j < dimension; j++) {
                out[i * dimension + j] = means[c * dimension + j] + scales[c * dimension + j] * draw.nextGaussian();
            }
        }
        return out;
    }

    /** Writes rows [n, d] as a float64 {@code .npy} file, which numpy's {@code np.load} reads. */
    public static void writeNpy(Path file, double[] rows, int dimension) {
        Npz.writeNpy(file, Npz.NpyArray.of(rows, rows.length / dimension, dimension));
    }

    /** Reads a 2-d {@code .npy} file as float64 rows [n, d] in {@code manager}. */
    public static NDArray readNpy(Path file, NDManager manager) {
        Npz.NpyArray a = Npz.readNpy(file);
        long[] shape = a.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException(file + ": expected a 2-d array, got shape " + java.util.Arrays.toString(shape));
        }
        return OwnedArrays.of(manager, a.toDoubleArray(), new Shape(shape));
    }

    /**
     * Fits {@code train} once for each covariance type and each K (in that nesting order) with scikit-learn's
     * defaults and {@code seed}, and scores both sets; the seconds cover {@link GaussianMixture#fit} only.
     */
    public static List<Result> run(NDArray train, NDArray heldOut, List<Integer> components, List<Covariance> covariances,
            long seed) {
        return run(train, heldOut, components, covariances, seed, Config.defaults(1, Covariance.DIAG).maxIterations());
    }

    /** As {@link #run(NDArray, NDArray, List, List, long)} with at most {@code maxIterations} EM iterations per fit. */
    public static List<Result> run(NDArray train, NDArray heldOut, List<Integer> components, List<Covariance> covariances,
            long seed, int maxIterations) {
        List<Result> results = new ArrayList<>();
        for (Covariance covariance : covariances) {
            for (int k : components) {
                Config config = Config.defaults(k, covariance).withSeed(seed).withMaxIterations(maxIterations);
                long start = System.nanoTime();
                GaussianMixture gm = GaussianMixture.fit(train, config);
                double seconds = (System.nanoTime() - start) / 1e9;
                results.add(new Result(k, covariance, seconds, gm.iterations(), gm.converged(), gm.score(train),
                        gm.score(heldOut), gm.dimension()));
            }
        }
        return results;
    }
}
