package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** Per-channel residual scale {@code gamma} (DINOv2's LayerScale, init 1e-5). */
public final class LayerScale extends Module {

    private final Parameter gamma;

    public LayerScale(int dim, float initValue) {
        gamma = parameterNoDecay("gamma", new Shape(dim), Init.constant(initValue));
    }

    public NDArray forward(NDArray x) {
        return x.mul(gamma.array());
    }
}
