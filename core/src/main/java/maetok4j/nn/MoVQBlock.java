package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;

/**
 * The reference's {@code MoVQBlockv2}: affine-free LayerNorms whose output on the latent tokens only is
 * modulated from the raw latent, {@code LN(x)*scale + shift} (no "1+"), and no LayerScale.
 */
public final class MoVQBlock extends TransformerBlock {

    public final LayerNorm norm1;
    public final Attention attn;
    public final LayerNorm norm2;
    public final Mlp mlp;
    public final Modulation adaLN;

    public MoVQBlock(int dim, int heads, int mlpHidden, int latentDim) {
        norm1 = child("norm1", new LayerNorm(dim, false));
        attn = child("attn", new Attention(dim, heads));
        norm2 = child("norm2", new LayerNorm(dim, false));
        mlp = child("mlp", new Mlp(dim, mlpHidden));
        adaLN = child("adaLN_modulation", new Modulation(latentDim, 4 * dim));
    }

    @Override
    public NDArray forward(NDArray x, NDArray zq, Rope.Tables rope, int layer, int latents) {
        NDList mod = adaLN.forward(zq).split(4, 2); // shift_msa, scale_msa, shift_mlp, scale_mlp: [B, L, D]
        NDArray a = modulateLatents(norm1.forward(x), mod.get(0), mod.get(1), latents);
        x = x.add(attn.forward(a, rope, layer));
        NDArray m = modulateLatents(norm2.forward(x), mod.get(2), mod.get(3), latents);
        return x.add(mlp.forward(m));
    }

    /** Applies {@code y*scale + shift} to the last {@code latents} tokens of y [B, T, D]. */
    static NDArray modulateLatents(NDArray y, NDArray shift, NDArray scale, int latents) {
        long t = y.getShape().get(1);
        NDArray head = y.get(new NDIndex(":, :{}", t - latents));
        NDArray tail = y.get(new NDIndex(":, {}:", t - latents)).mul(scale).add(shift);
        return NDArrays.concat(new NDList(head, tail), 1);
    }

    @Override
    public long flops(long tokens) {
        return attn.flops(tokens) + mlp.flops(tokens);
    }
}
