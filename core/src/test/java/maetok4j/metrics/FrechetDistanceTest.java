package maetok4j.metrics;

import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class FrechetDistanceTest {

    /** Written by make_distribution_metrics.py; see its docstring for how each reference is computed. */
    private static final Map<String, NpyArray> REF = Npz.read(resource("metrics/distribution_metrics.npz"));

    private static FeatureStatistics statistics(String key) {
        NpyArray x = REF.get(key);
        long[] shape = x.shape();
        return FeatureStatisticsTest.streamed(x.toFloatArray(), (int) shape[0], (int) shape[1]);
    }

    private static double scalar(String key) {
        return REF.get(key).toDoubleArray()[0];
    }

    private static void assertRelative(double actual, double expected, double tolerance) {
        assertThat(actual).isFinite();
        assertThat(Math.abs(actual - expected)).as("%s vs %s", actual, expected).isLessThanOrEqualTo(tolerance * Math.abs(expected));
    }

    @Test
    void matchesPytorchFidOnWellConditionedStatistics() {
        double fd = FrechetDistance.between(REF.get("fd.mu1").toDoubleArray(), REF.get("fd.sigma1").toDoubleArray(),
                REF.get("fd.mu2").toDoubleArray(), REF.get("fd.sigma2").toDoubleArray(), 32);
        assertRelative(fd, scalar("fd.value12"), 1e-9);
        // end to end from the float32 features
        assertRelative(FrechetDistance.between(statistics("fd.x1"), statistics("fd.x2")), scalar("fd.value12"), 1e-9);
    }

    @Test
    void smallDistanceBetweenSimilarSetsKeepsItsRelativeAccuracy() {
        // FD ≈ 0.006 while the traces are ≈ 120 each: the terms cancel to 5 digits
        assertRelative(FrechetDistance.between(statistics("fd.x1"), statistics("fd.x3")), scalar("fd.value13"), 1e-6);
    }

    @Test
    void rankDeficientCovariancesMatchAHighPrecisionReference() {
        // 64 features from 20 samples: both covariances have rank 19; reference: mpmath at 50 digits
        double fd = FrechetDistance.between(statistics("fds.x1"), statistics("fds.x2"));
        assertRelative(fd, scalar("fds.mpmath"), 1e-8);
        // for the record: numpy's float64 eigh is 5e-9 off, scipy's sqrtm (real part) 2.5e-8
        assertRelative(scalar("fds.numpy_eigen"), scalar("fds.mpmath"), 1e-7);
    }

    @Test
    void diagonalCovariancesGiveTheClosedForm() {
        // commuting covariances: tr √(Σ1Σ2) = Σ √(a_i b_i); here Σ1 = diag(1, 4, 9), Σ2 = diag(4, 1, 0)
        double[] s1 = {1, 0, 0, 0, 4, 0, 0, 0, 9};
        double[] s2 = {4, 0, 0, 0, 1, 0, 0, 0, 0};
        double fd = FrechetDistance.between(new double[] {1, 2, 3}, s1, new double[] {0, 2, 5}, s2, 3);
        // ‖Δμ‖² = 5, traces 14 + 5, tr √ = 2 + 2 + 0
        assertThat(fd).isCloseTo(5 + 19 - 8, within(1e-12));
    }

    @Test
    void isZeroForIdenticalAndSymmetricInItsArguments() {
        FeatureStatistics a = statistics("fd.x1");
        FeatureStatistics b = statistics("fd.x2");
        assertThat(FrechetDistance.between(a, a)).isCloseTo(0, within(1e-10 * 120));
        assertRelative(FrechetDistance.between(b, a), FrechetDistance.between(a, b), 1e-12);
        FeatureStatistics s = statistics("fds.x1");
        assertThat(FrechetDistance.between(s, s)).isCloseTo(0, within(1e-6));
    }

    @Test
    void rejectsBadArguments() {
        double[] mu = new double[2];
        double[] sigma = {1, 0, 0, 1};
        assertThatThrownBy(() -> FrechetDistance.between(mu, sigma, new double[3], sigma, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mu2 must have 2 values, got 3");
        assertThatThrownBy(() -> FrechetDistance.between(mu, new double[] {1, 0, 0, Double.NaN}, mu, sigma, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sigma1 has a non-finite value");
        assertThatThrownBy(() -> FrechetDistance.between(new FeatureStatistics(2), new FeatureStatistics(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("widths differ");
    }
}
