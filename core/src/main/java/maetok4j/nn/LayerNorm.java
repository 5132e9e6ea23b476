package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * {@code nn.LayerNorm(dim)} over the last axis, with or without the affine weight and bias. The ViTs' norms use
 * eps 1e-6; torch's default, 1e-5, is what a plain {@code nn.LayerNorm(dim)} (SiT's qk-norm) has.
 */
public final class LayerNorm extends Module {

    public static final float EPS = 1e-6f;
    /** {@code nn.LayerNorm}'s own default. */
    public static final float TORCH_DEFAULT_EPS = 1e-5f;

    private final int dim;
    private final float eps;
    private final Parameter weight;
    private final Parameter bias;

    public LayerNorm(int dim, boolean affine) {
        this(dim, affine, EPS);
    }

    public LayerNorm(int dim, boolean affine, float eps) {
        if (dim <= 0 || !(eps > 0)) {
            throw new IllegalArgumentException("LayerNorm needs a positive width and eps, got " + dim + " and " + eps);
        }
        this.dim = dim;
        this.eps = eps;
        this.weight = affine ? parameterNoDecay("weight", new Shape(dim), Init.constant(1f)) : null;
        this.bias = affine ? parameterNoDecay("bias", new Shape(dim), Init.zeros()) : null;
    }

    public NDArray forward(NDArray x) {
        if (weight != null) {
            return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(dim), weight.array(), bias.array(), eps)
                    .singletonOrThrow();
        }
        // The native kernel needs a weight; y*1+0 is exact, so this equals the reference's affine-free LN.
        try (NDArray one = x.getManager().ones(new Shape(dim));
                NDArray zero = x.getManager().zeros(new Shape(dim))) {
            return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(dim), one, zero, eps).singletonOrThrow();
        }
    }
}
