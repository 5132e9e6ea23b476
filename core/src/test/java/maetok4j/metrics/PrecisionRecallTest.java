package maetok4j.metrics;

import maetok4j.metrics.PrecisionRecall.Result;
import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PrecisionRecallTest {

    /** Written by make_distribution_metrics.py: pr.real [150, 8], pr.fake [130, 8], brute-force [precision, recall]. */
    private static final Map<String, NpyArray> REF = Npz.read(resource("metrics/distribution_metrics.npz"));
    private static final float[] REAL = REF.get("pr.real").toFloatArray();
    private static final float[] FAKE = REF.get("pr.fake").toFloatArray();

    @Test
    void matchesBruteForceForEveryBlockSize() {
        for (int k : new int[] {3, 5}) {
            double[] expected = REF.get("pr.k" + k).toDoubleArray();
            // blocks of 32 leave partial blocks in both sets and off-diagonal blocks in the radii
            for (int block : new int[] {PrecisionRecall.BLOCK, 32, 7}) {
                Result r = PrecisionRecall.compute(REAL, 150, FAKE, 130, 8, k, block);
                assertThat(new double[] {r.precision(), r.recall()}).as("k %d, block %d", k, block).containsExactly(expected);
                assertThat(r.k()).isEqualTo(k);
            }
        }
        Result byDefault = PrecisionRecall.compute(REAL, 150, FAKE, 130, 8);
        assertThat(byDefault.precision()).isEqualTo(REF.get("pr.k3").toDoubleArray()[0]);
    }

    @Test
    void swappingTheSetsSwapsPrecisionAndRecall() {
        Result r = PrecisionRecall.compute(FAKE, 130, REAL, 150, 8, 3);
        double[] expected = REF.get("pr.k3").toDoubleArray();
        assertThat(new double[] {r.recall(), r.precision()}).containsExactly(expected);
    }

    @Test
    void identicalSetsAreFullyCoveredAndDistantOnesNotAtAll() {
        Result same = PrecisionRecall.compute(REAL, 150, REAL, 150, 8, 3, 32);
        assertThat(same.precision()).isEqualTo(1.0);
        assertThat(same.recall()).isEqualTo(1.0);
        float[] far = REAL.clone();
        for (int i = 0; i < far.length; i++) {
            far[i] += 1000;
        }
        Result apart = PrecisionRecall.compute(REAL, 150, far, 150, 8, 3, 32);
        assertThat(apart.precision()).isZero();
        assertThat(apart.recall()).isZero();
    }

    @Test
    void radiusIsTheKthNearestOtherRow() {
        // points 0, 1, 3, 6, 10 on a line; squared distances
        float[] line = {0, 1, 3, 6, 10};
        var rows = new PrecisionRecall.Rows(line, 5, 1, "real", 2);
        assertThat(PrecisionRecall.radii(rows, 1, 2)).containsExactly(1, 1, 4, 9, 16);
        assertThat(PrecisionRecall.radii(rows, 2, 2)).containsExactly(9, 4, 9, 16, 49);
    }

    @Test
    void nativeArrayCountStaysFlatAcrossCalls() {
        int before = FeatureStatisticsTest.liveArrays();
        List<Integer> counts = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            PrecisionRecall.compute(REAL, 150, FAKE, 130, 8, 3, 32);
            PrecisionRecall.radii(new PrecisionRecall.Rows(REAL, 150, 8, "real", 3), 3, 64);
            counts.add(FeatureStatisticsTest.liveArrays());
        }
        assertThat(counts).containsOnly(before); // every array made was released
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> PrecisionRecall.compute(new float[3], 3, REAL, 150, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("real set needs more than k = 3 rows, got 3");
        assertThatThrownBy(() -> PrecisionRecall.compute(REAL, 150, Arrays.copyOf(FAKE, 9), 2, 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fake set needs more than k = 3 rows");
        assertThatThrownBy(() -> PrecisionRecall.compute(REAL, 150, FAKE, 131, 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fake must be [131, 8]");
        assertThatThrownBy(() -> PrecisionRecall.compute(REAL, 150, FAKE, 130, 8, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k must be positive");
    }
}
