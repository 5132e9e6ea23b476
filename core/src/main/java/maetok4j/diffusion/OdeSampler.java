package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import maetok4j.tensor.OwnedArrays;

import java.util.function.IntConsumer;

/**
 * The reference's ODE sampler ({@code modelling/samplers.py euler_sampler}): time runs from 1 (noise) to 0 (data)
 * in {@code steps} uniform steps, {@code x_next = x + (t_next − t)·v}, the state in float64 and the model in
 * float32; Heun's correction averages the velocity at both ends (not on the last step). {@link Guidance} applies
 * while {@code low ≤ t ≤ high}.
 */
public final class OdeSampler {

    private OdeSampler() {}

    /**
     * Integrates from {@code noise} [B, ...] with labels [B] (int64); returns float64 samples [B, ...] in noise's
     * manager. {@code onStep} hears of each finished step.
     */
    public static NDArray sample(VelocityModel model, NDArray noise, NDArray labels, int steps, boolean heun, Guidance guidance, IntConsumer onStep) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
        NDManager owner = noise.getManager();
        double[] times = new double[steps + 1]; // torch.linspace(1, 0, steps + 1) in float64
        for (int i = 0; i <= steps; i++) {
            times[i] = 1 - (double) i / steps;
        }
        long[] y = labels.toLongArray();
        NDArray x = noise.toType(DataType.FLOAT64, true); // [B, ...]: [B, L, C] tokens or [B, C, S, S] latents alike
        for (int i = 0; i < steps; i++) {
            try (NDManager step = owner.newSubManager()) {
                x.attach(step);
                double t = times[i];
                double dt = times[i + 1] - t;
                boolean guided = guidance.activeAt(t);
                NDArray d = guidance.velocity(model, x, y, t, guided, step);
                NDArray next = x.add(OwnedArrays.mul(d, dt));
                if (heun && i < steps - 1) {
                    // the reference guides Heun's second evaluation by the interval test at t, not at t_next
                    NDArray dPrime = guidance.velocity(model, next, y, times[i + 1], guided, step);
                    next = x.add(OwnedArrays.mul(d.add(dPrime), 0.5 * dt));
                }
                next.attach(owner);
                x = next;
            }
            onStep.accept(i + 1);
        }
        return x;
    }
}
