package maetok4j.nn;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Multi-head self-attention with optional RoPE, computed as the reference's non-fused path: softmax(q*scale k^T) v.
 * With qk-norm (SiT's {@code qk_norm: true}), q and k are each layer-normalised per head over the head dimension
 * ({@code q_norm}, {@code k_norm}: affine, eps 1e-5) after the split and before RoPE and the scale.
 */
public final class Attention extends Module {

    public final int dim;
    public final int heads;
    public final int headDim;
    public final Linear qkv;
    /** Null without qk-norm (the reference's {@code nn.Identity}, which has no state-dict keys). */
    public final LayerNorm qNorm;
    public final LayerNorm kNorm;
    public final Linear proj;

    public Attention(int dim, int heads) {
        this(dim, heads, false);
    }

    public Attention(int dim, int heads, boolean qkNorm) {
        if (dim % heads != 0) {
            throw new IllegalArgumentException("width " + dim + " is not divisible by " + heads + " heads");
        }
        this.dim = dim;
        this.heads = heads;
        this.headDim = dim / heads;
        // registered in the reference's order (qkv, q_norm, k_norm, proj), which is the state dict's
        qkv = child("qkv", new Linear(dim, 3 * dim));
        qNorm = qkNorm ? child("q_norm", new LayerNorm(headDim, true, LayerNorm.TORCH_DEFAULT_EPS)) : null;
        kNorm = qkNorm ? child("k_norm", new LayerNorm(headDim, true, LayerNorm.TORCH_DEFAULT_EPS)) : null;
        proj = child("proj", new Linear(dim, dim));
    }

    /** x [B, T, D]; rope may be null. */
    public NDArray forward(NDArray x, Rope.Tables rope, int layer) {
        Shape s = x.getShape();
        long b = s.get(0);
        long t = s.get(1);
        NDArray qkvs = qkv.forward(x).reshape(b, t, 3, heads, headDim).transpose(2, 0, 3, 1, 4); // [3, B, H, T, hd]
        NDArray q = qkvs.get(0);
        NDArray k = qkvs.get(1);
        NDArray v = qkvs.get(2);
        if (qNorm != null) {
            q = qNorm.forward(q); // [B, H, T, hd]
            k = kNorm.forward(k);
        }
        if (rope != null) {
            q = rope.apply(q, layer);
            k = rope.apply(k, layer);
        }
        NDArray attn = OwnedArrays.mul(q, Math.pow(headDim, -0.5)).matMul(k.transpose(0, 1, 3, 2)).softmax(-1); // [B, H, T, T]
        NDArray out = attn.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, dim); // [B, T, D]
        return proj.forward(out);
    }

    public long flops(long tokens) {
        return qkv.flops(tokens) + proj.flops(tokens) + 4L * tokens * tokens * dim;
    }
}
