package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import maetok4j.nn.Attention;
import maetok4j.nn.LayerNorm;
import maetok4j.nn.Mlp;
import maetok4j.nn.Modulation;
import maetok4j.nn.Module;

/**
 * A SiT block with adaLN-Zero conditioning: from c, six vectors (shift, scale, gate for attention and for the
 * MLP); {@code x + gate·attn(modulate(norm1(x)))}, then the same with the MLP (tanh GELU). The norms have no
 * affine weights: the modulation plays their part.
 */
public final class SiTBlock extends Module {

    public final LayerNorm norm1;
    public final Attention attn;
    public final LayerNorm norm2;
    public final Mlp mlp;
    public final Modulation adaLNModulation;

    /** @param qkNorm layer-normalise q and k per head ({@code qk_norm}) */
    public SiTBlock(int hidden, int heads, int mlpHidden, boolean qkNorm) {
        norm1 = child("norm1", new LayerNorm(hidden, false));
        attn = child("attn", new Attention(hidden, heads, qkNorm));
        norm2 = child("norm2", new LayerNorm(hidden, false));
        mlp = child("mlp", new Mlp(hidden, mlpHidden, true));
        adaLNModulation = child("adaLN_modulation", new Modulation(hidden, 6 * hidden));
    }

    /** x [B, T, D], c [B, D] → [B, T, D]. */
    public NDArray forward(NDArray x, NDArray c) {
        NDList m = adaLNModulation.forward(c).split(6, 1); // 6 × [B, D]
        NDArray a = attn.forward(modulate(norm1.forward(x), m.get(0), m.get(1)), null, 0);
        x = x.add(m.get(2).expandDims(1).mul(a));
        NDArray f = mlp.forward(modulate(norm2.forward(x), m.get(3), m.get(4)));
        return x.add(m.get(5).expandDims(1).mul(f));
    }

    /** {@code x·(1 + scale) + shift}, per sample: x [B, T, D], shift and scale [B, D]. */
    static NDArray modulate(NDArray x, NDArray shift, NDArray scale) {
        return x.add(x.mul(scale.expandDims(1))).add(shift.expandDims(1));
    }
}
