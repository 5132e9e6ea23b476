package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import maetok4j.tensor.OwnedArrays;

import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * The reference's Euler–Maruyama sampler ({@code modelling/samplers.py euler_maruyama_sampler}): times
 * {@code linspace(1, 0.04, steps)} then 0; diffusion g² = 2t; the score from the velocity,
 * {@code s = (ρ·v − x) / (σ² − ρ·σ̇·σ)} with ρ = α/α̇; drift {@code v − ½·g²·s}, guided as the velocity is;
 * {@code x + drift·dt + g·√|dt|·ε} on every step but the last, which takes the mean only. The state is float64;
 * ε comes from the seed (Java's generator, so runs repeat, but not torch's draws).
 */
public final class SdeSampler {

    private SdeSampler() {}

    /** Samples from {@code noise} [B, ...] with labels [B]; float64 samples in noise's manager. */
    public static NDArray sample(VelocityModel model, NDArray noise, NDArray labels, int steps, Guidance guidance, PathType path,
            long seed, IntConsumer onStep) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
        double[] times = new double[steps + 1];
        for (int i = 0; i < steps; i++) {
            times[i] = steps == 1 ? 1 : 1 - (1 - 0.04) * i / (steps - 1);
        }
        times[steps] = 0;
        NDManager owner = noise.getManager();
        long[] y = labels.toLongArray();
        SplittableRandom rng = new SplittableRandom(seed);
        NDArray x = noise.toType(DataType.FLOAT64, true);
        for (int i = 0; i < steps; i++) {
            try (NDManager step = owner.newSubManager()) {
                x.attach(step);
                double t = times[i];
                double dt = times[i + 1] - t;
                NDArray next = x.add(OwnedArrays.mul(drift(model, x, y, t, guidance, path, step), dt));
                if (i < steps - 1) {
                    double[] e = new double[(int) x.getShape().size()];
                    for (int k = 0; k < e.length; k++) {
                        e[k] = rng.nextGaussian();
                    }
                    next = next.add(OwnedArrays.mul(OwnedArrays.of(step, e, x.getShape()), Math.sqrt(2 * t) * Math.sqrt(Math.abs(dt))));
                }
                next.attach(owner);
                x = next;
            }
            onStep.accept(i + 1);
        }
        return x;
    }

    /** {@code v − ½·g²·s} at t for x [B, ...], guided. */
    private static NDArray drift(VelocityModel model, NDArray x, long[] y, double t, Guidance guidance, PathType path, NDManager scope) {
        boolean guided = guidance.activeAt(t);
        NDArray v = Guidance.velocity(model, x, y, t, guided, scope); // [B or 2B, ...]
        NDArray input = guided ? x.concat(x, 0) : x;
        double[] c = path.coefficients(t);
        double rho = c[0] / c[1];
        double variance = c[2] * c[2] - rho * c[3] * c[2];
        NDArray score = OwnedArrays.mul(v, rho).sub(input).div(OwnedArrays.scalar(v, variance));
        NDArray d = v.sub(OwnedArrays.mul(score, 0.5 * 2 * t));
        return guided ? guidance.combine(d, y.length) : d;
    }
}
