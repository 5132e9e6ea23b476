package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.OwnedArrays;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The training objective of SiT (reference {@code losses/sit_loss.py}, velocity prediction): draw t per sample
 * (uniform, or lognormal as EDM: σ = exp(N(0, 1)), t with σ_t/α_t = σ), noise ε ~ N(0, 1), feed
 * {@code x_t = α_t·x₀ + σ_t·ε} and regress the velocity {@code α̇_t·x₀ + σ̇_t·ε} with the mean squared error over
 * every non-batch axis. Draws come from the caller's generator, so a run repeats with its seed.
 */
public final class Transport {

    /** How training times are drawn: the reference's {@code weighting}. */
    public enum TimeSampling {
        UNIFORM,
        LOGNORMAL
    }

    /** One batch's draws: the model's input x_t, times t [B], the velocity target, and the noise ε. */
    public record Draw(NDArray input, NDArray t, NDArray target, NDArray noise) {}

    private Transport() {}

    /** Draws t and ε for data x₀ [B, ...] (float32); the arrays belong to {@code manager}. */
    public static Draw draw(NDArray x0, PathType path, TimeSampling sampling, SplittableRandom rng, NDManager manager) {
        long[] shape = x0.getShape().getShape();
        int b = (int) shape[0];
        float[] t = new float[b];
        for (int i = 0; i < b; i++) {
            t[i] = (float) (sampling == TimeSampling.UNIFORM ? rng.nextDouble() : path.timeForRatio(Math.exp(rng.nextGaussian())));
        }
        float[] e = new float[(int) x0.getShape().size()];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) rng.nextGaussian();
        }
        long[] perSample = new long[shape.length];
        Arrays.fill(perSample, 1);
        perSample[0] = b;
        float[][] c = new float[4][b]; // α, α̇, σ, σ̇ per sample
        for (int i = 0; i < b; i++) {
            double[] k = path.coefficients(t[i]);
            for (int j = 0; j < 4; j++) {
                c[j][i] = (float) k[j];
            }
        }
        NDArray noise = OwnedArrays.of(manager, e, x0.getShape()); // [B, ...]
        NDArray alpha = OwnedArrays.of(manager, c[0], new Shape(perSample));
        NDArray dAlpha = OwnedArrays.of(manager, c[1], new Shape(perSample));
        NDArray sigma = OwnedArrays.of(manager, c[2], new Shape(perSample));
        NDArray dSigma = OwnedArrays.of(manager, c[3], new Shape(perSample));
        NDArray input = x0.mul(alpha).add(noise.mul(sigma));
        NDArray target = x0.mul(dAlpha).add(noise.mul(dSigma));
        input.attach(manager);
        target.attach(manager);
        return new Draw(input, OwnedArrays.of(manager, t), target, noise);
    }

    /** Mean squared error per sample over every non-batch axis: [B]. */
    public static NDArray loss(NDArray prediction, NDArray target) {
        NDArray d = prediction.sub(target);
        return d.mul(d).reshape(d.getShape().get(0), -1).mean(new int[] {1});
    }
}
