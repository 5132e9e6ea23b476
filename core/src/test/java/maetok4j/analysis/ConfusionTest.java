package maetok4j.analysis;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfusionTest {

    @Test
    void countsAccuracyAndRecallPerClass() {
        Confusion c = Confusion.of(new long[] {0, 0, 1, 1, 2}, new long[] {0, 1, 1, 1, 0}, 4);
        assertThat(c.counts()[0]).containsExactly(1, 1, 0, 0);
        assertThat(c.accuracy()).isEqualTo(3.0 / 5);
        assertThat(c.classAccuracy()).containsExactly(0.5, 1.0, 0.0, Double.NaN);
        assertThat(Confusion.argmax(new float[] {0, 2, 1, 5, 5, 0}, 3)).containsExactly(1, 0);
        assertThatThrownBy(() -> Confusion.of(new long[] {4}, new long[] {0}, 4)).hasMessageContaining("outside [0, 4)");
        assertThat(Confusion.of(new long[0], new long[0], 2).accuracy()).isNaN();
    }
}
