package maetok4j.nn;

import ai.djl.ndarray.NDArray;

/**
 * The reference decoder's final norm: affine-free LayerNorm whose latent tokens are modulated. Decoders
 * keep only image tokens after this norm, so the modulation cannot reach any output; its weights are kept
 * for the state dict and the forward is the plain normalisation.
 */
public final class MoVQNorm extends Module {

    private final LayerNorm norm;
    public final Modulation adaLN;

    public MoVQNorm(int latentDim, int dim) {
        norm = new LayerNorm(dim, false); // no tensors, so not a child
        adaLN = child("adaLN_modulation", new Modulation(latentDim, 2 * dim));
    }

    public NDArray forward(NDArray x) {
        return norm.forward(x);
    }
}
