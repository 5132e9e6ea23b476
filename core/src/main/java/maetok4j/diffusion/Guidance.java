package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.OwnedArrays;

import java.util.Arrays;

/**
 * Guidance of the sampled velocity: {@code v = g + w·(v_model − g)} while {@code low ≤ t ≤ high} and w > 1.
 * <ul>
 *   <li>classifier-free (the reference's samplers): g is the same model with the null label; the batch is doubled
 *       so both branches take one forward pass;</li>
 *   <li>autoguidance (Karras et al. 2024, "Guiding a diffusion model with a bad version of itself"): g is a weaker
 *       model — an earlier checkpoint or a smaller model — conditioned on the same labels.</li>
 * </ul>
 */
public final class Guidance {

    private final double scale;
    private final double low;
    private final double high;
    private final VelocityModel guide;

    /** Classifier-free guidance with scale w on the time interval [low, high]. */
    public Guidance(double scale, double low, double high) {
        this(scale, low, high, null);
    }

    private Guidance(double scale, double low, double high, VelocityModel guide) {
        if (!(scale >= 0) || !(low >= 0) || !(high <= 1) || low > high) {
            throw new IllegalArgumentException("guidance needs scale ≥ 0 and 0 ≤ low ≤ high ≤ 1, got " + scale + ", [" + low + ", " + high + "]");
        }
        this.scale = scale;
        this.low = low;
        this.high = high;
        this.guide = guide;
    }

    public static Guidance none() {
        return new Guidance(1, 0, 1);
    }

    /** Autoguidance by {@code guide}, which must take the same latents and labels as the guided model. */
    public static Guidance autoguidance(double scale, double low, double high, VelocityModel guide) {
        if (guide == null) {
            throw new IllegalArgumentException("autoguidance needs a guiding model");
        }
        return new Guidance(scale, low, high, guide);
    }

    public double scale() {
        return scale;
    }

    public double low() {
        return low;
    }

    public double high() {
        return high;
    }

    public boolean isAutoguidance() {
        return guide != null;
    }

    boolean activeAt(double t) {
        return scale > 1 && t <= high && t >= low;
    }

    /** The (guided) velocity at t for x [B, ...] float64 → float64 [B, ...]; guided as the interval test at t says. */
    NDArray velocity(VelocityModel model, NDArray x, long[] y, double t, NDManager scope) {
        return velocity(model, x, y, t, activeAt(t), scope);
    }

    /** As above, with the guidance decision made by the caller (Heun's second evaluation reuses the first's). */
    NDArray velocity(VelocityModel model, NDArray x, long[] y, double t, boolean guided, NDManager scope) {
        int b = y.length;
        NDArray input = x.toType(DataType.FLOAT32, false);
        if (!guided) {
            return evaluate(model, input, y, t, scope);
        }
        NDArray conditional;
        NDArray guiding;
        if (guide == null) {
            long[] labels = Arrays.copyOf(y, 2 * b);
            Arrays.fill(labels, b, 2 * b, model.nullLabel());
            NDArray both = evaluate(model, NDArrays.concat(new NDList(input, input), 0), labels, t, scope); // [2B, ...]
            conditional = both.get("0:" + b);
            guiding = both.get(b + ":");
        } else {
            conditional = evaluate(model, input, y, t, scope);
            guiding = evaluate(guide, input, y, t, scope);
        }
        return guiding.add(OwnedArrays.mul(conditional.sub(guiding), scale));
    }

    private static NDArray evaluate(VelocityModel model, NDArray x, long[] labels, double t, NDManager scope) {
        float[] time = new float[labels.length];
        Arrays.fill(time, (float) t);
        return model.velocity(x, OwnedArrays.of(scope, time, new Shape(time.length)), OwnedArrays.of(scope, labels))
                .toType(DataType.FLOAT64, false);
    }

    @Override
    public String toString() {
        if (scale <= 1) {
            return "none";
        }
        return (guide == null ? "classifier-free" : "autoguidance") + " w=" + scale + " on [" + low + ", " + high + "]";
    }
}
