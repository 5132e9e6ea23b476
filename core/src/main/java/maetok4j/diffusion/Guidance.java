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
 * Classifier-free guidance as the reference's samplers apply it: scale w (off at w ≤ 1) while
 * {@code low ≤ t ≤ high}; the batch is doubled with the null label and the two halves combine as
 * {@code u + w·(c − u)}.
 */
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

    /** The model's velocity at time t for x [B, ...] (float64): [B, ...], or [2B, ...] (conditional, then null) when guided. */
    static NDArray velocity(VelocityModel model, NDArray x, long[] y, double t, boolean guided, NDManager scope) {
        int b = y.length;
        NDArray input = x.toType(DataType.FLOAT32, false);
        long[] labels = y;
        if (guided) {
            input = NDArrays.concat(new NDList(input, input), 0); // [2B, ...]
            labels = Arrays.copyOf(y, 2 * b);
            Arrays.fill(labels, b, 2 * b, model.nullLabel());
        }
        float[] time = new float[labels.length];
        Arrays.fill(time, (float) t);
        return model.velocity(input, OwnedArrays.of(scope, time, new Shape(time.length)), OwnedArrays.of(scope, labels))
                .toType(DataType.FLOAT64, false);
    }

    /** {@code u + w·(c − u)} from a doubled batch [2B, ...] (conditional half first). */
    NDArray combine(NDArray doubled, int b) {
        NDArray conditional = doubled.get("0:" + b);
        NDArray unconditional = doubled.get(b + ":");
        return unconditional.add(OwnedArrays.mul(conditional.sub(unconditional), scale));
    }
}
