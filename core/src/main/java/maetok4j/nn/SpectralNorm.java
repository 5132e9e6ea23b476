package maetok4j.nn;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * {@code torch.nn.utils.spectral_norm(module, name='weight', n_power_iterations=1, dim=0, eps=1e-12)} for
 * the module that registers it: the trained tensor is {@code weight_orig}, the singular-vector estimates
 * are the buffers {@code weight_u} [out] and {@code weight_v} [numel/out], and the weight used is
 * {@code weight_orig / sigma} with {@code sigma = u·(W v)}, W the weight viewed as [out, numel/out].
 *
 * <p>In training mode each forward first runs one power iteration ({@code v = normalize(Wᵀu)},
 * {@code u = normalize(W v)}, without gradient) and writes u and v back in place; sigma is then taken
 * from fresh copies, so a second forward before the backward pass (real then fake) cannot disturb the
 * first one's graph. Gradients reach {@code weight_orig} through W and sigma, never through u or v. In
 * evaluation mode the stored u and v are used unchanged.
 */
public final class SpectralNorm {

    public static final double EPS = 1e-12;

    private final Parameter weightOrig;
    private final Parameter u;
    private final Parameter v;

    /** Registers {@code <name>_orig}, {@code <name>_u}, {@code <name>_v} in {@code owner} (after any tensors it already has). */
    SpectralNorm(Module owner, String name, Shape shape, Init weightInit) {
        long rows = shape.get(0);
        long cols = shape.size() / rows;
        weightOrig = owner.parameter(name + "_orig", shape, weightInit);
        u = owner.buffer(name + "_u", new Shape(rows), unitGaussian());
        v = owner.buffer(name + "_v", new Shape(cols), unitGaussian());
    }

    /** torch's start: a standard normal vector scaled to unit length (norm floored at eps). */
    static Init unitGaussian() {
        return (values, shape, rng) -> {
            double sq = 0;
            for (int i = 0; i < values.length; i++) {
                double g = rng.nextGaussian();
                values[i] = (float) g;
                sq += (double) values[i] * values[i];
            }
            float norm = (float) Math.max(Math.sqrt(sq), EPS);
            for (int i = 0; i < values.length; i++) {
                values[i] /= norm;
            }
        };
    }

    public Parameter weightOrig() {
        return weightOrig;
    }

    /** The normalised weight (same shape as {@code weight_orig}); in training mode u and v advance one iteration first. */
    public NDArray weight(boolean training) {
        NDArray w = weightOrig.array();
        long rows = w.getShape().get(0);
        NDArray mat = w.reshape(rows, -1); // [out, in*k]
        NDArray uu;
        NDArray vv;
        if (training) {
            NDArray fixed = mat.stopGradient();
            NDArray nv = normalize(fixed.transpose().matMul(u.array().reshape(rows, 1)).reshape(-1)); // [in*k]
            NDArray nu = normalize(fixed.matMul(nv.reshape(-1, 1)).reshape(-1)); // [out]
            v.array().set(new NDIndex(":"), nv);
            u.array().set(new NDIndex(":"), nu);
            uu = nu;
            vv = nv;
        } else {
            uu = u.array();
            vv = v.array();
        }
        NDArray sigma = uu.reshape(1, rows).matMul(mat.matMul(vv.reshape(-1, 1))).reshape(1); // [1]
        return w.div(sigma);
    }

    /** {@code F.normalize(x, dim=0, eps)}: x / max(‖x‖, eps). */
    private static NDArray normalize(NDArray x) {
        return x.div(OwnedArrays.maximum(x.norm(), EPS));
    }
}
