package maetok4j.nn;

import ai.djl.ndarray.NDArray;

/** A pre-norm transformer block whose forward may be modulated by the raw latent (MoVQ) or not. */
public abstract class TransformerBlock extends Module {

    /**
     * x [B, T, D], the last {@code latents} tokens being latent tokens; zq [B, L, C] the raw latent (used by
     * MoVQ blocks only, may be null for plain blocks); rope may be null.
     */
    public abstract NDArray forward(NDArray x, NDArray zq, Rope.Tables rope, int layer, int latents);

    public abstract long flops(long tokens);
}
