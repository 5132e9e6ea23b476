package maetok4j.losses;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

import java.util.random.RandomGenerator;

/**
 * The reference's consistency regularisation of the discriminator ({@code disc_cr_loss_weight}): the mean
 * squared difference between its logits on the batch it was trained on and on strongly augmented copies,
 * {@code mse(cat[D(x), D(x̂)], cat[D(strong(x)), D(strong(x̂))])}, strong = {@code color,translation,cutout_0.5}
 * applied with probability 1. Real and fake copies are augmented independently (one draw sequence each,
 * real first). The weight is zero before the discriminator's start step.
 */
public final class ConsistencyRegularization {

    public static final String STRONG_POLICY = "color,translation,cutout_0.5";

    private final DiffAugment strong;
    private final double weight;
    private final long start;

    /**
     * @param weight the reference's {@code disc_cr_loss_weight} (4.0 in its configuration)
     * @param start the discriminator start step ({@code disc_start})
     */
    public ConsistencyRegularization(double weight, long start) {
        if (!(weight >= 0) || start < 0) {
            throw new IllegalArgumentException("consistency weight must be >= 0 and the start step >= 0");
        }
        this.strong = DiffAugment.parse(STRONG_POLICY, 1.0);
        this.weight = weight;
        this.start = start;
    }

    /** The weight at {@code step}: zero before the start step. */
    public double weightAt(long step) {
        return step >= start ? weight : 0;
    }

    /**
     * The weighted term at {@code step}. The strong forward passes run (and move the discriminator's
     * normalisation statistics) even while the weight is zero, as in the reference; a trainer may skip
     * the call when {@link #weightAt} is zero.
     *
     * @param real the images {@code logitsReal} came from, before any weak augmentation (the reference
     *     re-augments the clean inputs)
     * @param logitsReal the discriminator's logits for this step's real batch
     */
    public NDArray loss(Discriminator d, NDArray real, NDArray fake, NDArray logitsReal, NDArray logitsFake,
            long step, RandomGenerator rng) {
        NDArray strongReal = d.forward(strong.apply(real, rng));
        NDArray strongFake = d.forward(strong.apply(fake, rng));
        return OwnedArrays.mul(term(logitsReal, logitsFake, strongReal, strongFake), weightAt(step));
    }

    /** {@code F.mse_loss(cat[a, b], cat[sa, sb])}: the mean over every element of both batches. */
    static NDArray term(NDArray logitsReal, NDArray logitsFake, NDArray strongReal, NDArray strongFake) {
        NDArray weak = NDArrays.concat(new NDList(logitsReal, logitsFake), 0);
        NDArray strongAll = NDArrays.concat(new NDList(strongReal, strongFake), 0);
        return weak.sub(strongAll).square().mean();
    }
}
