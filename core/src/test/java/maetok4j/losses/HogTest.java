package maetok4j.losses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HogTest {

    static {
        Engines.configure();
    }

    @ParameterizedTest
    @CsvSource({"hog-128, 8", "hog-256, 16"})
    void matchesTheReferenceGenerator(String fixture, int patch) {
        try (NDManager m = NDManager.newBaseManager();
                Safetensors io = Safetensors.open(resource("fixtures/" + fixture + "/io.safetensors"))) {
            NDArray expected = io.read("hog", m);
            NDArray actual = Hog.features(io.read("images", m), patch);
            assertThat(actual.getShape()).isEqualTo(expected.getShape());
            assertThat(relativeError(actual, expected)).isLessThan(1e-5);
        }
    }

    @Test
    void reflectPaddingMirrorsWithoutRepeatingTheBorder() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.arange(9f).reshape(1, 1, 3, 3);
            assertThat(Hog.reflectPad1(x).get(0).get(0).toFloatArray()).containsExactly(
                    4, 3, 4, 5, 4,
                    1, 0, 1, 2, 1,
                    4, 3, 4, 5, 4,
                    7, 6, 7, 8, 7,
                    4, 3, 4, 5, 4);
        }
    }

    @Test
    void smallerPatchesGiveMoreTokensWithFewerFeatures() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(-1, 1, new Shape(2, 3, 32, 32));
            assertThat(Hog.features(x, 8).getShape()).isEqualTo(new Shape(2, 16, 27));
            assertThat(Hog.features(x, 16).getShape()).isEqualTo(new Shape(2, 4, 108));
            assertThat(Hog.featuresPerToken(16)).isEqualTo(108);
            assertThatThrownBy(() -> Hog.features(m.zeros(new Shape(1, 3, 24, 24)), 8)).hasMessageContaining("multiple of 16");
        }
    }

    /** A patch smaller than an 8×8 cell takes the features of the cell that contains it. */
    @Test
    void patchesSmallerThanACellShareTheirCellsFeatures() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(-1, 1, new Shape(1, 3, 32, 32));
            float[] cells = Hog.features(x, 8).toFloatArray(); // [1, 4·4, 27]
            NDArray fine = Hog.features(x, 4); // [1, 8·8, 27]
            assertThat(fine.getShape()).isEqualTo(new Shape(1, 64, 27));
            assertThat(Hog.featuresPerToken(4)).isEqualTo(27);
            float[] f = fine.toFloatArray();
            for (int row = 0; row < 8; row++) {
                for (int col = 0; col < 8; col++) {
                    int cell = (row / 2) * 4 + col / 2;
                    for (int k = 0; k < 27; k++) {
                        assertThat(f[(row * 8 + col) * 27 + k]).isEqualTo(cells[cell * 27 + k]);
                    }
                }
            }
            assertThatThrownBy(() -> Hog.features(x, 3)).hasMessageContaining("multiple or a divisor of 8");
        }
    }
}
