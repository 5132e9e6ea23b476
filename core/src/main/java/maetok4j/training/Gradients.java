package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import maetok4j.nn.Parameter;

import java.util.Collection;

/** Gradient bookkeeping DJL leaves to the caller: global-norm clipping and zeroing. */
public final class Gradients {

    private Gradients() {}

    /**
     * {@code torch.nn.utils.clip_grad_norm_}: scales every gradient by {@code min(1, max/(norm + 1e-6))}
     * where norm is the L2 norm over all of them; returns that norm (before clipping).
     */
    public static double clipGlobalNorm(Collection<Parameter> params, double maxNorm) {
        double sq = 0;
        for (Parameter p : params) {
            try (NDArray g = p.array().getGradient(); NDArray s = g.square().sum()) {
                sq += s.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
        }
        double norm = Math.sqrt(sq);
        double coef = Math.min(1.0, maxNorm / (norm + 1e-6));
        if (maxNorm > 0 && coef < 1.0) {
            for (Parameter p : params) {
                try (NDArray g = p.array().getGradient()) {
                    g.muli((float) coef);
                }
            }
        }
        return norm;
    }

    /** Sets every gradient to zero (native gradients accumulate across backward passes). */
    public static void zero(Collection<Parameter> params) {
        for (Parameter p : params) {
            JniUtils.zeroGrad((PtNDArray) p.array());
        }
    }
}
