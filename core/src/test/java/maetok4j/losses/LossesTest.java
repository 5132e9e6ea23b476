package maetok4j.losses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Every loss term against values computed by hand. */
class LossesTest {

    static {
        Engines.configure();
    }

    static double softplus(double x) {
        return Math.log1p(Math.exp(x));
    }

    @Test
    void ganLossesByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray real = m.create(new float[] {2f, 0.5f, -1f});
            NDArray fake = m.create(new float[] {-2f, 0f, 1.5f});
            // hinge D: 0.5 * (mean(relu(1 - r)) + mean(relu(1 + f))) = 0.5 * ((0 + .5 + 2)/3 + (0 + 1 + 2.5)/3)
            assertThat((double) Adversarial.HINGE.discriminator(real, fake).getFloat()).isCloseTo(0.5 * (2.5 / 3 + 3.5 / 3), within(1e-6));
            assertThat((double) Adversarial.HINGE.generator(fake).getFloat()).isCloseTo(-(-2 + 0 + 1.5) / 3, within(1e-6));
            double vd = 0.5 * ((softplus(-2) + softplus(-0.5) + softplus(1)) / 3 + (softplus(-2) + softplus(0) + softplus(1.5)) / 3);
            assertThat((double) Adversarial.VANILLA.discriminator(real, fake).getFloat()).isCloseTo(vd, within(1e-6));
            assertThat((double) Adversarial.NON_SATURATING.discriminator(real, fake).getFloat()).isCloseTo(vd, within(1e-6));
            double ng = (softplus(2) + softplus(0) + softplus(-1.5)) / 3;
            assertThat((double) Adversarial.NON_SATURATING.generator(fake).getFloat()).isCloseTo(ng, within(1e-6));
            assertThat(Adversarial.parse("non-saturating")).isEqualTo(Adversarial.NON_SATURATING);
            assertThatThrownBy(() -> Adversarial.parse("wgan")).hasMessageContaining("unknown GAN loss 'wgan'");
        }
    }

    @Test
    void adaptiveWeightAndStart() {
        assertThat(Adversarial.adaptiveWeight(2.0, 0.5)).isCloseTo(2.0 / 0.5001, within(1e-12));
        assertThat(Adversarial.adaptiveWeight(5.0, 0.0)).isEqualTo(1e4); // 5 / 1e-4 = 5e4, clamped
        assertThat(Adversarial.startAt(0.4, 29_999, 30_000)).isZero();
        assertThat(Adversarial.startAt(0.4, 30_000, 30_000)).isEqualTo(0.4);
    }

    @Test
    void lecamByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            LeCam lecam = new LeCam(0.9);
            NDArray real = m.create(new float[] {1f, 3f}); // mean 2
            NDArray fake = m.create(new float[] {-1f, -3f}); // mean -2
            lecam.update(real, fake);
            assertThat(lecam.realEma()).isCloseTo(0.2, within(1e-7));
            assertThat(lecam.fakeEma()).isCloseTo(-0.2, within(1e-7));
            // mean(relu(r + 0.2)^2) + mean(relu(0.2 - f)^2) = (1.44 + 10.24)/2 + (1.44 + 10.24)/2
            assertThat((double) lecam.regularizer(real, fake).getFloat()).isCloseTo(11.68, within(1e-5));
        }
    }

    @Test
    void reconstructionByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new float[] {0f, 1f, -1f, 0.5f});
            NDArray y = m.create(new float[] {0.5f, 1f, 0f, -0.5f});
            assertThat((double) Reconstruction.L2.loss(x, y).getFloat()).isCloseTo((0.25 + 0 + 1 + 1) / 4, within(1e-7));
            assertThat((double) Reconstruction.L1.loss(x, y).getFloat()).isCloseTo((0.5 + 0 + 1 + 1) / 4, within(1e-7));
            assertThat(Reconstruction.parse("mse")).isEqualTo(Reconstruction.L2);
        }
    }
}
