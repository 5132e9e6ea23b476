package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;

/**
 * What a sampler integrates: a velocity field v(x, t, y) of the linear path {@code x_t = (1 − t)·x₀ + t·ε}
 * (t = 1 is noise), conditioned on labels, with a null label for the unconditional branch.
 */
public interface VelocityModel {

    /** x [B, ...] float32, t [B] float32, y [B] int64 → v [B, ...] in x's manager. */
    NDArray velocity(NDArray x, NDArray t, NDArray y);

    /** The label of the unconditional branch (classifier-free guidance). */
    long nullLabel();
}
