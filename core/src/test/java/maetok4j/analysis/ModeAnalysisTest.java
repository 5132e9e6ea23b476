package maetok4j.analysis;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModeAnalysisTest {

    static {
        Engines.configure();
    }

    /** Three clusters in 12 dimensions, most of the variance in the first 3. */
    static NDArray clusters(NDManager m, int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] v = new float[n * 12];
        for (int i = 0; i < n; i++) {
            int c = rng.nextInt(3);
            for (int j = 0; j < 12; j++) {
                double centre = j < 3 ? (j == c ? 6 : 0) : 0;
                double spread = j < 3 ? 1 : 0.1 * (j - 2);
                v[i * 12 + j] = (float) (centre + spread * rng.nextGaussian());
            }
        }
        return OwnedArrays.of(m, v, new Shape(n, 12));
    }

    static ModeAnalysis.Options options(ModeAnalysis.Reduction r, boolean standardize, int... ks) {
        List<Integer> k = new ArrayList<>();
        for (int x : ks) {
            k.add(x);
        }
        return new ModeAnalysis.Options(k, List.of(GaussianMixture.Covariance.DIAG), r, standardize, 1, 1e-3, 100, 1e-6, 0);
    }

    @Test
    void withoutReductionItIsTheMixtureOnTheRawRows() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray train = clusters(m, 400, 1);
            NDArray test = clusters(m, 100, 2);
            List<ModeAnalysis.Fit> heard = new ArrayList<>();
            var r = ModeAnalysis.run(train, test, options(ModeAnalysis.Reduction.none(), false, 1, 3), heard::add, it -> {});
            assertThat(heard).isEqualTo(r.fits());
            assertThat(r.dimension()).isEqualTo(12);
            assertThat(r.explainedVariance()).isEqualTo(1);
            GaussianMixture direct = GaussianMixture.fit(train, GaussianMixture.Config.defaults(3, GaussianMixture.Covariance.DIAG));
            assertThat(r.fits().get(1).nllPerDim()).isCloseTo(-direct.score(test) / 12, within(1e-9));
            assertThat(r.fits().get(1).bic()).isCloseTo(direct.bic(train), within(1e-6));
            // three clusters explain the data far better than one
            assertThat(r.fits().get(1).nllPerDim()).isLessThan(r.fits().get(0).nllPerDim() - 0.1);
        }
    }

    @Test
    void pcaKeepsTheRequestedShareOrCount() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray train = clusters(m, 400, 1);
            NDArray test = clusters(m, 100, 2);
            Pca.Accumulator acc = new Pca.Accumulator(12);
            acc.add(train);
            Pca pca = acc.fit(12);
            int expected = pca.componentsFor(0.9);
            var r = ModeAnalysis.run(train, test, options(ModeAnalysis.Reduction.keepVariance(0.9), true, 2), f -> {}, it -> {});
            assertThat(r.dimension()).isEqualTo(expected);
            double share = 0;
            for (int i = 0; i < expected; i++) {
                share += pca.explainedVarianceRatio()[i];
            }
            assertThat(r.explainedVariance()).isCloseTo(share, within(1e-12)).isGreaterThan(0.9);
            var dims = ModeAnalysis.run(train, test, options(ModeAnalysis.Reduction.toDimensions(5), true, 2), f -> {}, it -> {});
            assertThat(dims.dimension()).isEqualTo(5);
            assertThatThrownBy(() -> ModeAnalysis.run(train, test, options(ModeAnalysis.Reduction.toDimensions(13), true, 2), f -> {}, it -> {}))
                    .hasMessageContaining("13");
            assertThatThrownBy(() -> ModeAnalysis.run(train, test, options(ModeAnalysis.Reduction.none(), true, 401), f -> {}, it -> {}))
                    .hasMessageContaining("401");
            assertThatThrownBy(() -> ModeAnalysis.Reduction.keepVariance(1.5)).hasMessageContaining("(0, 1)");
        }
    }

    @Test
    void theProbeScoresItsTestRows() {
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(3);
            int n = 300;
            float[] v = new float[n * 4];
            long[] y = new long[n];
            for (int i = 0; i < n; i++) {
                y[i] = i % 3;
                for (int j = 0; j < 4; j++) {
                    v[i * 4 + j] = (float) ((j == y[i] ? 2.0 : 0) + rng.nextGaussian());
                }
            }
            NDArray x = OwnedArrays.of(m, v, new Shape(n, 4));
            NDArray train = x.get("0:200");
            NDArray test = x.get("200:300");
            long[] ytrain = java.util.Arrays.copyOfRange(y, 0, 200);
            long[] ytest = java.util.Arrays.copyOfRange(y, 200, 300);
            var r = LinearProbe.run(train, ytrain, test, ytest, 3, LogisticRegression.Config.defaults(), it -> {});
            long right = 0;
            long total = 0;
            for (int c = 0; c < 3; c++) {
                right += r.confusion().counts()[c][c];
                for (long k : r.confusion().counts()[c]) {
                    total += k;
                }
            }
            assertThat(total).isEqualTo(100);
            assertThat(r.accuracy()).isEqualTo(right / 100.0).isGreaterThan(0.6);
            assertThat(r.classAccuracy()).hasSize(3);
            assertThatThrownBy(() -> LinearProbe.run(train, ytrain, test, new long[100], 0, LogisticRegression.Config.defaults(), it -> {}))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }
}
