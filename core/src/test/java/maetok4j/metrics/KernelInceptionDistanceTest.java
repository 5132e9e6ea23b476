package maetok4j.metrics;

import maetok4j.metrics.KernelInceptionDistance.Options;
import maetok4j.metrics.KernelInceptionDistance.Result;
import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KernelInceptionDistanceTest {

    /** Written by make_distribution_metrics.py: kid.full / kid.general are torch-fidelity's unbiased MMD² in numpy. */
    private static final Map<String, NpyArray> REF = Npz.read(resource("metrics/distribution_metrics.npz"));

    private static Result kid(String real, String fake, Options options) {
        NpyArray x = REF.get(real);
        NpyArray y = REF.get(fake);
        return KernelInceptionDistance.compute(x.toFloatArray(), (int) x.shape()[0], y.toFloatArray(), (int) y.shape()[0],
                (int) x.shape()[1], options);
    }

    @Test
    void aSubsetOfTheWholeSetsIsTheUnbiasedEstimate() {
        double expected = REF.get("kid.full").toDoubleArray()[0];
        // 40 rows each: every subset holds all rows (in some order), so each subset gives the same value
        Result r = kid("kid.x", "kid.y", new Options(3, 1000, 7));
        assertThat(r.subsetSize()).isEqualTo(40);
        assertThat(r.subsets()).isEqualTo(3);
        assertThat(Math.abs(r.mean() - expected)).isLessThanOrEqualTo(1e-9 * Math.abs(expected));
        assertThat(r.std()).isLessThanOrEqualTo(1e-12 * Math.abs(expected));
    }

    @Test
    void randomSubsetsAverageToTheWholeSetEstimate() {
        // the subset estimate is unbiased for the all-pairs estimate over the full sets (120 and 100 rows)
        double expected = REF.get("kid.general").toDoubleArray()[0];
        Result r = kid("kid.x2", "kid.y2", new Options(200, 30, 1));
        assertThat(r.subsetSize()).isEqualTo(30);
        assertThat(r.mean()).isFinite();
        assertThat(r.std()).isPositive();
        assertThat(Math.abs(r.mean() - expected)).isLessThanOrEqualTo(4 * r.std() / Math.sqrt(200));
        assertThat(kid("kid.x2", "kid.y2", new Options(200, 30, 1))).isEqualTo(r);
        assertThat(kid("kid.x2", "kid.y2", new Options(200, 30, 2)).mean()).isNotEqualTo(r.mean());
    }

    @Test
    void subsetSizeIsCappedByTheSmallerSet() {
        Result r = kid("kid.x2", "kid.y2", new Options(2, 1000, 0));
        assertThat(r.subsetSize()).isEqualTo(100);
        assertThat(r.mean()).isFinite();
    }

    @Test
    void nativeArrayCountStaysFlatAcrossCalls() {
        int before = FeatureStatisticsTest.liveArrays();
        List<Integer> counts = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            kid("kid.x2", "kid.y2", new Options(3, 30, i));
            counts.add(FeatureStatisticsTest.liveArrays());
        }
        assertThat(counts).containsOnly(before); // every array made was released
    }

    @Test
    void rejectsBadArguments() {
        float[] two = new float[4];
        assertThatThrownBy(() -> KernelInceptionDistance.compute(new float[2], 1, two, 2, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 2 real rows, got 1");
        assertThatThrownBy(() -> KernelInceptionDistance.compute(two, 2, new float[5], 2, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fake must be [2, 2] = 4 values, got 5");
        assertThatThrownBy(() -> new Options(0, 10, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Options(10, 1, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
