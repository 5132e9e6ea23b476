package maetok4j.latents;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class LatentNormalizationTest {

    static {
        Engines.configure();
    }

    @Test
    void perChannelScalesAlongTheChannelAxisAndInverts() {
        // latents [B, C=2, 1, 3]: channel 0 holds 1..3, channel 1 holds 10..30
        LatentNormalization n = new LatentNormalization(new long[] {2, 1, 3}, 0, new double[] {2, 20}, new double[] {1, 10});
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray z = OwnedArrays.of(m, new float[] {1, 2, 3, 10, 20, 30}, new Shape(1, 2, 1, 3));
            NDArray zn = n.normalize(z);
            assertThat(zn.toFloatArray()).containsExactly(-1, 0, 1, -1, 0, 1);
            assertThat(n.denormalize(zn).toFloatArray()).containsExactly(1, 2, 3, 10, 20, 30);
        }
    }

    @Test
    void tokensUseTheLastAxisAndScalarUsesOnePair() {
        LatentNormalization perToken = new LatentNormalization(new long[] {2, 2}, 1, new double[] {0, 1}, new double[] {1, 2});
        LatentNormalization scalar = new LatentNormalization(new long[] {2, 2}, 1, new double[] {1}, new double[] {2});
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray z = OwnedArrays.of(m, new float[] {1, 3, 5, 7}, new Shape(1, 2, 2)); // [B, L, H]
            assertThat(perToken.normalize(z).toFloatArray()).containsExactly(1, 1, 5, 3);
            assertThat(scalar.normalize(z).toFloatArray()).containsExactly(0, 1, 2, 3);
            assertThatThrownBy(() -> scalar.normalize(OwnedArrays.of(m, new float[3], new Shape(1, 3))))
                    .hasMessageContaining("[B, 2, 2]");
        }
    }

    @Test
    void jsonRoundTripsAndBadValuesAreRefused() {
        LatentNormalization n = new LatentNormalization(new long[] {4, 8, 8}, 0, new double[] {0.1, 0.2, 0.3, 0.4}, new double[] {1, 2, 3, 4});
        assertThat(LatentNormalization.fromJson(n.toJson(), "x")).isEqualTo(n);
        assertThatThrownBy(() -> new LatentNormalization(new long[] {4}, 0, new double[] {0}, new double[] {0}))
                .hasMessageContaining("std must be positive");
        assertThatThrownBy(() -> new LatentNormalization(new long[] {4}, 0, new double[] {0, 0}, new double[] {1, 1}))
                .hasMessageContaining("1 or 4");
        assertThatThrownBy(() -> LatentNormalization.fromJson(n.toJson().without("std"), "f.json")).hasMessage("f.json: latent normalisation needs 'std'");
        LatentStatistics.Summary s = new LatentStatistics.Summary(new long[] {2, 3}, 10, 0.5, 2, -1, 1, new double[] {0, 0, 1},
                new double[] {1, 1, 2}, 0);
        assertThat(LatentNormalization.of(s, 1, false).mean()).containsExactly(0.5);
        assertThat(LatentNormalization.of(s, 1, true).std()).containsExactly(1, 1, 2);
    }
}
