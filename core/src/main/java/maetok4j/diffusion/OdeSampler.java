package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.OwnedArrays;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The reference's ODE sampler ({@code modelling/samplers.py euler_sampler}): time runs from 1 (noise) to 0 (data)
 * in {@code steps} uniform steps, {@code x_next = x + (t_next − t)·v}, the state in float64 and the model in
 * float32; Heun's correction averages the velocity at both ends (not on the last step). Classifier-free guidance
 * doubles the batch with the null label and uses {@code v_u + w·(v_c − v_u)} while {@code low ≤ t ≤ high}.
 */
public final class OdeSampler {

    /** Guidance scale w (off at w ≤ 1, as the reference) and the interval of t where it applies. */
    public record Guidance(double scale, double low, double high) {
        public Guidance {
            if (!(scale >= 0) || !(low >= 0) || !(high <= 1) || low > high) {
                throw new IllegalArgumentException("guidance needs scale ≥ 0 and 0 ≤ low ≤ high ≤ 1, got " + scale + ", [" + low + ", " + high + "]");
            }
        }

        public static Guidance none() {
            return new Guidance(1, 0, 1);
        }

        boolean activeAt(double t) {
            return scale > 1 && t <= high && t >= low;
        }
    }

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
        long[] nulls = new long[y.length];
        Arrays.fill(nulls, model.nullLabel());
        NDArray x = noise.toType(DataType.FLOAT64, true); // [B, L, C]
        for (int i = 0; i < steps; i++) {
            try (NDManager step = owner.newSubManager()) {
                x.attach(step);
                double t = times[i];
                double dt = times[i + 1] - t;
                boolean guided = guidance.activeAt(t);
                NDArray d = velocity(model, x, y, nulls, t, guided, guidance.scale(), step);
                NDArray next = x.add(OwnedArrays.mul(d, dt));
                if (heun && i < steps - 1) {
                    NDArray dPrime = velocity(model, next, y, nulls, times[i + 1], guided, guidance.scale(), step);
                    next = x.add(OwnedArrays.mul(d.add(dPrime), 0.5 * dt));
                }
                next.attach(owner);
                x = next;
            }
            onStep.accept(i + 1);
        }
        return x;
    }

    /** The (guided) velocity at time t, float64 [B, L, C]. */
    private static NDArray velocity(VelocityModel model, NDArray x, long[] y, long[] nulls, double t, boolean guided, double scale, NDManager scope) {
        int b = y.length;
        NDArray input = x.toType(DataType.FLOAT32, false);
        long[] labels = y;
        if (guided) {
            input = NDArrays.concat(new NDList(input, input), 0); // [2B, L, C]
            labels = new long[2 * b];
            System.arraycopy(y, 0, labels, 0, b);
            System.arraycopy(nulls, 0, labels, b, b);
        }
        float[] time = new float[labels.length];
        Arrays.fill(time, (float) t);
        NDArray v = model.velocity(input, OwnedArrays.of(scope, time, new Shape(time.length)), OwnedArrays.of(scope, labels))
                .toType(DataType.FLOAT64, false);
        if (!guided) {
            return v;
        }
        NDArray conditional = v.get("0:" + b);
        NDArray unconditional = v.get(b + ":");
        return unconditional.add(OwnedArrays.mul(conditional.sub(unconditional), scale));
    }
}
