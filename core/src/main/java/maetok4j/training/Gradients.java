package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import maetok4j.nn.Parameter;

import java.util.Collection;
import java.util.Map;

/** Gradient bookkeeping DJL leaves to the caller: global-norm clipping and zeroing. */
public final class Gradients {

    private Gradients() {}



    /** The global gradient norm before clipping, and the first parameter (by key) whose gradient is not finite. */
    public record Norm(double value, String firstNonFinite) {
        public boolean finite() {
            return Double.isFinite(value);
        }

        /** "is NaN (at decoder.model.blocks.0.attn.qkv.bias)" for messages. */
        public String describe() {
            return "is " + value + (firstNonFinite == null ? "" : " (first at " + firstNonFinite + ")");
        }
    }

    /**
     * {@code torch.nn.utils.clip_grad_norm_}: scales every gradient by {@code min(1, max/(norm + 1e-6))}
     * where norm is the L2 norm over all of them (per-tensor norms as torch computes them, combined in double); nothing is scaled when the norm is
     * not finite, so the caller can stop before the weights change.
     */
    public static Norm clipGlobalNorm(Map<String, Parameter> params, double maxNorm) {
        double sq = 0;
        String bad = null;
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            // Like torch: each tensor's norm in its own precision, the total over the norms in double.
            try (NDArray g = e.getValue().array().getGradient(); NDArray n = g.norm()) {
                double norm = n.getFloat();
                if (Double.isInfinite(norm)) { // float32 overflows past ~1.8e19; a finite gradient keeps a finite norm
                    try (NDArray g64 = g.toType(ai.djl.ndarray.types.DataType.FLOAT64, false); NDArray n64 = g64.norm()) {
                        norm = n64.getDouble();
                    }
                }
                double v = norm * norm;
                if (!Double.isFinite(v) && bad == null) {
                    bad = e.getKey();
                }
                sq += v;
            }
        }
        double norm = Math.sqrt(sq);
        double coef = Math.min(1.0, maxNorm / (norm + 1e-6));
        if (Double.isFinite(norm) && maxNorm > 0 && coef < 1.0) {
            for (Parameter p : params.values()) {
                try (NDArray g = p.array().getGradient()) {
                    g.muli((float) coef);
                }
            }
        }
        return new Norm(norm, bad);
    }

    /** Sets every gradient to zero (native gradients accumulate across backward passes). */
    public static void zero(Collection<Parameter> params) {
        for (Parameter p : params) {
            JniUtils.zeroGrad((PtNDArray) p.array());
        }
    }
}
