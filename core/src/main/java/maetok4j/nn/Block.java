package maetok4j.nn;

import ai.djl.ndarray.NDArray;

/** timm's ViT {@code Block}: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))); LayerScale optional (DINOv2). */
public final class Block extends TransformerBlock {

    public final LayerNorm norm1;
    public final Attention attn;
    public final LayerScale ls1;
    public final LayerNorm norm2;
    public final Mlp mlp;
    public final LayerScale ls2;

    public Block(int dim, int heads, int mlpHidden, Float layerScaleInit) {
        norm1 = child("norm1", new LayerNorm(dim, true));
        attn = child("attn", new Attention(dim, heads));
        ls1 = layerScaleInit == null ? null : child("ls1", new LayerScale(dim, layerScaleInit));
        norm2 = child("norm2", new LayerNorm(dim, true));
        mlp = child("mlp", new Mlp(dim, mlpHidden));
        ls2 = layerScaleInit == null ? null : child("ls2", new LayerScale(dim, layerScaleInit));
    }

    @Override
    public NDArray forward(NDArray x, NDArray zq, Rope.Tables rope, int layer, int latents) {
        NDArray a = attn.forward(norm1.forward(x), rope, layer);
        x = x.add(ls1 == null ? a : ls1.forward(a));
        NDArray m = mlp.forward(norm2.forward(x));
        return x.add(ls2 == null ? m : ls2.forward(m));
    }

    @Override
    public long flops(long tokens) {
        return attn.flops(tokens) + mlp.flops(tokens);
    }
}
