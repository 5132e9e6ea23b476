package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** {@code nn.LayerNorm(dim, eps=1e-6)} over the last axis, with or without the affine weight and bias. */
public final class LayerNorm extends Module {

    public static final float EPS = 1e-6f;

    private final int dim;
    private final Parameter weight;
    private final Parameter bias;

    public LayerNorm(int dim, boolean affine) {
        this.dim = dim;
        this.weight = affine ? parameterNoDecay("weight", new Shape(dim), Init.constant(1f)) : null;
        this.bias = affine ? parameterNoDecay("bias", new Shape(dim), Init.zeros()) : null;
    }

    public NDArray forward(NDArray x) {
        if (weight != null) {
            return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(dim), weight.array(), bias.array(), EPS)
                    .singletonOrThrow();
        }
        // The native kernel needs a weight; y*1+0 is exact, so this equals the reference's affine-free LN.
        try (NDArray one = x.getManager().ones(new Shape(dim));
                NDArray zero = x.getManager().zeros(new Shape(dim))) {
            return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(dim), one, zero, EPS).singletonOrThrow();
        }
    }
}
