package maetok4j.metrics;

import maetok4j.metrics.InceptionScore.Result;
import maetok4j.metrics.InceptionScore.Splits;
import maetok4j.tensor.Npz;
import maetok4j.tensor.Npz.NpyArray;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class InceptionScoreTest {

    /** Written by make_distribution_metrics.py: is.logits [103, 10], per-split scores by scipy in float64. */
    private static final Map<String, NpyArray> REF = Npz.read(resource("metrics/distribution_metrics.npz"));

    private static void assertMatches(Result r, double[] expected) {
        assertThat(r.perSplit()).hasSameSizeAs(expected);
        double mean = 0;
        for (int i = 0; i < expected.length; i++) {
            assertThat(r.perSplit()[i]).isCloseTo(expected[i], within(1e-12 * expected[i]));
            mean += expected[i] / expected.length;
        }
        double var = 0;
        for (double v : expected) {
            var += (v - mean) * (v - mean) / expected.length;
        }
        assertThat(r.mean()).isCloseTo(mean, within(1e-12 * mean));
        assertThat(r.std()).isCloseTo(Math.sqrt(var), within(1e-12 * mean));
    }

    @Test
    void splitsByCountMatchScipy() {
        // rows [0, 25), [25, 51), [51, 77), [77, 103): floor(i·N/splits)
        Result r = InceptionScore.compute(REF.get("is.logits").toFloatArray(), 103, 10, Splits.count(4));
        assertMatches(r, REF.get("is.count4").toDoubleArray());
    }

    @Test
    void splitsBySizeMatchScipy() {
        // rows [0, 40), [40, 80), [80, 103), as the ADM evaluator's split_size
        Result r = InceptionScore.compute(REF.get("is.logits").toFloatArray(), 103, 10, Splits.size(40));
        assertMatches(r, REF.get("is.size40").toDoubleArray());
    }

    @Test
    void extremesAreOneAndTheClassCount() {
        int k = 7;
        int n = 10 * k;
        float[] confident = new float[n * k];
        float[] uniform = new float[n * k];
        for (int i = 0; i < n; i++) {
            confident[i * k + i % k] = 200f; // every class equally often, each row certain
        }
        assertThat(InceptionScore.compute(confident, n, k, Splits.count(1)).mean()).isCloseTo(k, within(1e-9));
        assertThat(InceptionScore.compute(uniform, n, k, Splits.count(1)).mean()).isCloseTo(1, within(1e-12));
    }

    @Test
    void aCountAndASizeThatCutTheSameRowsAgree() {
        float[] logits = REF.get("is.logits").toFloatArray();
        float[] first100 = java.util.Arrays.copyOf(logits, 100 * 10);
        assertThat(InceptionScore.compute(first100, 100, 10).perSplit())
                .containsExactly(InceptionScore.compute(first100, 100, 10, Splits.size(10)).perSplit());
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> Splits.count(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("count");
        assertThatThrownBy(() -> Splits.size(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("size");
        assertThatThrownBy(() -> InceptionScore.compute(new float[6], 3, 2, Splits.count(4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4 splits need at least as many rows, got 3");
        assertThatThrownBy(() -> InceptionScore.compute(new float[5], 3, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logits must be [3, 2]");
        assertThatThrownBy(() -> InceptionScore.compute(new float[] {0, Float.NaN}, 1, 2, Splits.count(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-finite");
    }
}
