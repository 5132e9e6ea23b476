package maetok4j.losses;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/**
 * The GAN objectives of the reference's {@code VQLoss}. The reference's "non-saturating" functions pass
 * their arguments to {@code binary_cross_entropy_with_logits} swapped (logits as targets); its published
 * config uses hinge. Here NON_SATURATING is the standard form (the same as VANILLA's discriminator loss).
 */
public enum Adversarial {
    HINGE, VANILLA, NON_SATURATING;

    public static Adversarial parse(String name) {
        switch (name) {
            case "hinge": return HINGE;
            case "vanilla": return VANILLA;
            case "non-saturating": return NON_SATURATING;
            default: throw new IllegalArgumentException("unknown GAN loss '" + name + "' (hinge, vanilla, non-saturating)");
        }
    }

    /** Discriminator loss from its logits on real and reconstructed images. */
    public NDArray discriminator(NDArray real, NDArray fake) {
        if (this == HINGE) {
            // 0.5 * (mean relu(1 - D(x)) + mean relu(1 + D(x̂)))
            return OwnedArrays.mul(Activation.relu(real.neg().add(1f)).mean().add(Activation.relu(fake.add(1f)).mean()), 0.5);
        }
        // 0.5 * (mean softplus(-D(x)) + mean softplus(D(x̂)))
        return OwnedArrays.mul(Activation.softPlus(real.neg()).mean().add(Activation.softPlus(fake).mean()), 0.5);
    }

    /** Generator loss from the discriminator's logits on reconstructions. */
    public NDArray generator(NDArray fake) {
        return this == HINGE ? fake.mean().neg() : Activation.softPlus(fake.neg()).mean();
    }

    /**
     * The adaptive weight of the adversarial term, {@code clamp(|grad of reconstruction loss| / (|grad of
     * generator loss| + 1e-4), 0, 1e4)}, both gradients taken with respect to the pixel head's last layer.
     */
    public static double adaptiveWeight(double reconstructionGradNorm, double generatorGradNorm) {
        return Math.max(0, Math.min(1e4, reconstructionGradNorm / (generatorGradNorm + 1e-4)));
    }

    /** The reference's {@code adopt_weight}: zero before the adversarial start step. */
    public static double startAt(double weight, long step, long start) {
        return step < start ? 0 : weight;
    }
}
