package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import maetok4j.tensor.OwnedArrays;

import java.util.random.RandomGenerator;

/**
 * The VMAE's posterior ({@code DiagonalGaussianDistribution}): a Gaussian per latent element whose
 * parameters are the encoder's moments, the last axis holding {@code [mean (C) | log-variance (C)]}.
 * Inference decodes the mean; latent diffusion trains on samples {@code μ + σ·ε}. Like the forward passes,
 * these functions leave their intermediates to the caller's manager.
 */
public final class DiagonalGaussian {

    /** The reference clamps the log-variance to this range before taking σ = exp(½·logvar). */
    public static final double MIN_LOGVAR = -30;
    public static final double MAX_LOGVAR = 20;

    private DiagonalGaussian() {}

    /** {@code mode()}: the mean, moments [..., 2C] → [..., C]. */
    public static NDArray mode(NDArray moments) {
        return moments.get(new NDIndex("..., :{}", channels(moments)));
    }

    /** σ = exp(½·clamp(logvar, −30, 20)): moments [..., 2C] → [..., C]. */
    public static NDArray std(NDArray moments) {
        NDArray logvar = moments.get(new NDIndex("..., {}:", channels(moments))).clip(MIN_LOGVAR, MAX_LOGVAR);
        return OwnedArrays.mul(logvar, 0.5).exp();
    }

    /** {@code sample()}: μ + σ·ε with ε ~ N(0, I) drawn from {@code rng}, moments [..., 2C] → [..., C]. */
    public static NDArray sample(NDArray moments, RandomGenerator rng) {
        NDArray mean = mode(moments);
        float[] eps = new float[Math.toIntExact(mean.size())];
        for (int i = 0; i < eps.length; i++) {
            eps[i] = (float) rng.nextGaussian();
        }
        NDArray noise = OwnedArrays.of(moments.getManager(), eps, mean.getShape());
        return mean.add(std(moments).mul(noise));
    }

    private static long channels(NDArray moments) {
        long twoC = moments.getShape().get(moments.getShape().dimension() - 1);
        if (twoC % 2 != 0) {
            throw new IllegalArgumentException("moments must end in [mean | log-variance], an even axis, got " + moments.getShape());
        }
        return twoC / 2;
    }
}
