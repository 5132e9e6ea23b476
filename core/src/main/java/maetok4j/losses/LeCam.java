package maetok4j.losses;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/**
 * LeCAM regularisation of the discriminator (the reference's {@code LeCAM_EMA} + {@code lecam_reg}):
 * exponential moving averages of the mean real and fake logits (decay 0.999, from 0), and
 * {@code mean(relu(D(x) - ema_fake)^2) + mean(relu(ema_real - D(x̂))^2)}.
 */
public final class LeCam {

    private final double decay;
    private double realEma;
    private double fakeEma;

    public LeCam(double decay) {
        this.decay = decay;
    }

    /** Folds this batch's mean logits into the averages (call before {@link #regularizer}, as the reference does). */
    public void update(NDArray real, NDArray fake) {
        realEma = realEma * decay + real.mean().getFloat() * (1 - decay);
        fakeEma = fakeEma * decay + fake.mean().getFloat() * (1 - decay);
    }

    public NDArray regularizer(NDArray real, NDArray fake) {
        NDArray a = Activation.relu(real.sub((float) fakeEma)).square().mean();
        NDArray b = Activation.relu(fake.neg().add((float) realEma)).square().mean();
        return a.add(b);
    }

    /** Restores the averages (resume). */
    public void restore(double realEma, double fakeEma) {
        this.realEma = realEma;
        this.fakeEma = fakeEma;
    }

    public double realEma() {
        return realEma;
    }

    public double fakeEma() {
        return fakeEma;
    }
}
