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
 * {@code s = (ρ·v − x) / (σ² − ρ·σ̇·σ)} with ρ = α/α̇; drift {@code v − ½·g²·s};
 * {@code x + drift·dt + g·√|dt|·ε} on every step but the last, which takes the mean only. The state is float64.
 * Guidance combines the velocities before the drift is formed: the drift is affine in v with the same x term in both
 * branches, so this equals the reference's combination of the two drifts. Each sample draws ε from its own seeded
 * stream, so a sample does not depend on the batch it was drawn in (but these are not torch's draws).
 */
public final class SdeSampler {

    private SdeSampler() {}

    /** Samples from {@code noise} [B, ...] with labels [B]; the samples' ε streams are seeded by {@code seed + i}. */
    public static NDArray sample(VelocityModel model, NDArray noise, NDArray labels, int steps, Guidance guidance, PathType path,
            long seed, IntConsumer onStep) {
        long[] seeds = new long[(int) noise.getShape().get(0)];
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = seed + i;
        }
        return sample(model, noise, labels, steps, guidance, path, seeds, onStep);
    }

    /** Samples from {@code noise} [B, ...] with labels [B], sample i's ε from a stream seeded by {@code seeds[i]}. */
    public static NDArray sample(VelocityModel model, NDArray noise, NDArray labels, int steps, Guidance guidance, PathType path,
            long[] seeds, IntConsumer onStep) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
        int b = (int) noise.getShape().get(0);
        if (seeds.length != b) {
            throw new IllegalArgumentException("one seed per sample: " + b + " samples, " + seeds.length + " seeds");
        }
        double[] times = new double[steps + 1];
        for (int i = 0; i < steps; i++) {
            times[i] = steps == 1 ? 1 : 1 - (1 - 0.04) * i / (steps - 1);
        }
        times[steps] = 0;
        NDManager owner = noise.getManager();
        long[] y = labels.toLongArray();
        SplittableRandom[] streams = new SplittableRandom[b];
        for (int i = 0; i < b; i++) {
            streams[i] = new SplittableRandom(seeds[i]);
        }
        int perSample = (int) (noise.getShape().size() / Math.max(b, 1));
        NDArray x = noise.toType(DataType.FLOAT64, true);
        for (int i = 0; i < steps; i++) {
            try (NDManager step = owner.newSubManager()) {
                x.attach(step);
                double t = times[i];
                double dt = times[i + 1] - t;
                NDArray next = x.add(OwnedArrays.mul(drift(model, x, y, t, guidance, path, step), dt));
                if (i < steps - 1) {
                    double[] e = new double[b * perSample];
                    for (int s = 0; s < b; s++) {
                        for (int k = 0; k < perSample; k++) {
                            e[s * perSample + k] = streams[s].nextGaussian();
                        }
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

    /** {@code v − ½·g²·s} at t for x [B, ...], with v guided. */
    private static NDArray drift(VelocityModel model, NDArray x, long[] y, double t, Guidance guidance, PathType path, NDManager scope) {
        NDArray v = guidance.velocity(model, x, y, t, scope); // [B, ...]
        double[] c = path.coefficients(t);
        double rho = c[0] / c[1];
        double variance = c[2] * c[2] - rho * c[3] * c[2];
        NDArray score = OwnedArrays.mul(v, rho).sub(x).div(OwnedArrays.scalar(v, variance));
        return v.sub(OwnedArrays.mul(score, 0.5 * 2 * t));
    }
}
