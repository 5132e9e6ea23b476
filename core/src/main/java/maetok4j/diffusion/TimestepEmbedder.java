package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.tensor.OwnedArrays;

/**
 * Scalar times t ∈ [0, 1] to vectors: GLIDE's frequency embedding {@code [cos(t·ω_k) | sin(t·ω_k)]},
 * ω_k = 10000^(−k/128), then {@code mlp} = Linear → SiLU → Linear (keys {@code mlp.0}, {@code mlp.2}).
 */
public final class TimestepEmbedder extends Module {

    public static final int FREQUENCIES = 256;

    /** The reference's {@code nn.Sequential(Linear, SiLU, Linear)}: children "0" and "2". */
    public static final class Mlp extends Module {
        public final Linear first;
        public final Linear second;

        Mlp(int in, int hidden) {
            first = child("0", new Linear(in, hidden));
            second = child("2", new Linear(hidden, hidden));
        }
    }

    public final Mlp mlp;

    public TimestepEmbedder(int hidden) {
        mlp = child("mlp", new Mlp(FREQUENCIES, hidden));
    }

    /** The frequency table ω [128] in float32, as the reference computes it. */
    static float[] frequencies() {
        int half = FREQUENCIES / 2;
        float[] f = new float[half];
        for (int k = 0; k < half; k++) {
            f[k] = (float) Math.exp((float) (-Math.log(10000) * k / half));
        }
        return f;
    }

    /** t [B] → [B, hidden]. */
    public NDArray forward(NDArray t) {
        NDArray freqs = OwnedArrays.of(t.getManager(), frequencies(), new Shape(1, FREQUENCIES / 2));
        NDArray args = t.reshape(-1, 1).mul(freqs); // [B, 128]
        NDArray embedding = NDArrays.concat(new NDList(args.cos(), args.sin()), 1); // [B, 256]
        return mlp.second.forward(maetok4j.nn.Modulation.silu(mlp.first.forward(embedding)));
    }
}
