package maetok4j.metrics;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FeatureStatisticsTest {

    /** Written by make_distribution_metrics.py: stats.x [257, 24] float32 (+1000 offset), np.mean and np.cov. */
    private static final Map<String, NpyArray> REF = Npz.read(resource("metrics/distribution_metrics.npz"));

    static void assertRelativelyClose(double[] actual, double[] expected, double tolerance, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        double scale = 0;
        for (double v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(actual[i] - expected[i])).as(what + "[" + i + "]").isLessThanOrEqualTo(tolerance * scale);
        }
    }

    /** Adds rows [n, d] in batches of 1, 3, 7, 15, ... rows, so the shift and the sums cross batch boundaries. */
    static FeatureStatistics streamed(float[] x, int n, int d) {
        FeatureStatistics s = new FeatureStatistics(d);
        for (int first = 0, size = 1; first < n; first += size, size = size * 2 + 1) {
            int last = Math.min(n, first + size);
            s.add(Arrays.copyOfRange(x, first * d, last * d), last - first);
        }
        assertThat(s.count()).isEqualTo(n);
        return s;
    }

    @Test
    void streamingOverUnevenBatchesMatchesNumpy() {
        NpyArray x = REF.get("stats.x");
        FeatureStatistics s = streamed(x.toFloatArray(), 257, 24);
        assertRelativelyClose(s.mean(), REF.get("stats.mean").toDoubleArray(), 1e-12, "mean");
        // the rows sit 1000 away from the origin: covariance entries are ~1 against squares of ~1e6
        assertRelativelyClose(s.covariance(), REF.get("stats.cov").toDoubleArray(), 1e-10, "covariance");
        assertThat(s.covarianceMatrix().numRows).isEqualTo(24);
    }

    @Test
    void hugeCommonOffsetGivesTheExactCovariance() {
        // x = 1e6 + t, y = 1e6 - 2t for t = 0..99, exact in float32; var(t) with n-1 is n(n+1)/12
        int n = 100;
        float[] rows = new float[2 * n];
        for (int t = 0; t < n; t++) {
            rows[2 * t] = 1e6f + t;
            rows[2 * t + 1] = 1e6f - 2 * t;
        }
        FeatureStatistics s = streamed(rows, n, 2);
        double var = n * (n + 1) / 12.0;
        // a naive Σxxᵀ − N·μμᵀ in float64 loses about 1e-5 of this to cancellation
        assertRelativelyClose(s.covariance(), new double[] {var, -2 * var, -2 * var, 4 * var}, 1e-13, "covariance");
        assertRelativelyClose(s.mean(), new double[] {1e6 + 49.5, 1e6 - 99}, 1e-15, "mean");
    }

    @Test
    void storedStatisticsWithACountCanBeExtended() {
        float[] x = REF.get("stats.x").toFloatArray();
        FeatureStatistics first = streamed(Arrays.copyOf(x, 100 * 24), 100, 24);
        FeatureStatistics resumed = FeatureStatistics.of(first.mean(), first.covariance(), first.count());
        assertRelativelyClose(resumed.covariance(), first.covariance(), 1e-14, "stored covariance");
        resumed.add(Arrays.copyOfRange(x, 100 * 24, 257 * 24), 157);
        assertThat(resumed.count()).isEqualTo(257);
        assertRelativelyClose(resumed.mean(), REF.get("stats.mean").toDoubleArray(), 1e-12, "mean");
        assertRelativelyClose(resumed.covariance(), REF.get("stats.cov").toDoubleArray(), 1e-10, "covariance");
    }

    @Test
    void storedStatisticsWithoutACountAreReadOnly() {
        double[] mu = {1, 2};
        double[] sigma = {2, 0.5, 0.5, 1};
        FeatureStatistics s = FeatureStatistics.of(mu, sigma, FeatureStatistics.UNKNOWN_COUNT);
        assertThat(s.mean()).containsExactly(mu);
        assertThat(s.covariance()).containsExactly(sigma);
        assertThat(s.count()).isZero();
        assertThatThrownBy(() -> s.add(new float[] {1, 2}, 1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("cannot be extended");
    }

    @Test
    void manyBatchesAcrossPendingFlushesMatchTwoPassSums() {
        // more rows than are held back before a product, with the covariance read (a partial flush) in between
        int n = 3 * FeatureStatistics.PENDING_ROWS + 77;
        int d = 5;
        SplittableRandom rng = new SplittableRandom(11);
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (100 + rng.nextGaussian() * (1 + i % d));
        }
        FeatureStatistics s = new FeatureStatistics(d);
        int half = n / 2;
        s.add(Arrays.copyOf(x, half * d), half);
        double[] early = s.covariance();
        assertRelativelyClose(early, twoPassCovariance(x, half, d), 1e-12, "covariance of the first half");
        for (int first = half; first < n; first += 100) {
            int last = Math.min(n, first + 100);
            s.add(Arrays.copyOfRange(x, first * d, last * d), last - first);
        }
        assertThat(s.count()).isEqualTo(n);
        assertRelativelyClose(s.covariance(), twoPassCovariance(x, n, d), 1e-12, "covariance");
        assertRelativelyClose(s.covariance(), s.covariance(), 0, "covariance read twice");
    }

    /** The covariance of the first n rows [n, d] by the textbook two-pass formula in float64. */
    private static double[] twoPassCovariance(float[] x, int n, int d) {
        double[] mu = new double[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                mu[j] += x[i * d + j];
            }
        }
        for (int j = 0; j < d; j++) {
            mu[j] /= n;
        }
        double[] cov = new double[d * d];
        for (int i = 0; i < n; i++) {
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    cov[a * d + b] += (x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b]) / (n - 1);
                }
            }
        }
        return cov;
    }

    @Test
    void nativeArrayCountStaysFlatAcrossAdds() {
        float[] x = REF.get("stats.x").toFloatArray();
        FeatureStatistics s = new FeatureStatistics(24);
        int before = liveArrays();
        List<Integer> counts = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            // 257 rows a time: every few adds fill the pending rows and run a product in libtorch
            for (int r = 0; r < 5; r++) {
                s.add(x, 257);
            }
            s.covariance();
            counts.add(liveArrays());
        }
        assertThat(counts).containsOnly(before); // every array made was released
        assertThat(s.count()).isEqualTo(25L * 257);
    }

    /** Every native array alive in the process: base managers are children of the engine's system manager. */
    static int liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return ((BaseNDManager) probe.getParentManager()).getManagedArrays().size();
        }
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> new FeatureStatistics(0)).isInstanceOf(IllegalArgumentException.class);
        FeatureStatistics s = new FeatureStatistics(3);
        assertThatThrownBy(() -> s.add(new float[5], 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected [2, 3] = 6 values, got 5");
        assertThatThrownBy(s::mean).isInstanceOf(IllegalStateException.class);
        s.add(new float[] {1, 2, 3}, 1);
        assertThat(s.mean()).containsExactly(1, 2, 3);
        assertThatThrownBy(s::covariance).isInstanceOf(IllegalStateException.class).hasMessageContaining("at least 2 rows");
        assertThatThrownBy(() -> FeatureStatistics.of(new double[2], new double[3], 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sigma must be [2, 2]");
        assertThatThrownBy(() -> FeatureStatistics.of(new double[1], new double[1], 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("count");
    }
}
