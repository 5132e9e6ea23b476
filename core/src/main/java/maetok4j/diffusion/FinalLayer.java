package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import maetok4j.nn.LayerNorm;
import maetok4j.nn.Linear;
import maetok4j.nn.Modulation;
import maetok4j.nn.Module;

/** SiT's output head: {@code linear(modulate(norm_final(x), shift, scale))}, zero-initialised. */
public final class FinalLayer extends Module {

    public final LayerNorm normFinal;
    public final Linear linear;
    public final Modulation adaLNModulation;

    public FinalLayer(int hidden, int out) {
        normFinal = child("norm_final", new LayerNorm(hidden, false));
        linear = child("linear", Linear.zeroInit(hidden, out));
        adaLNModulation = child("adaLN_modulation", new Modulation(hidden, 2 * hidden));
    }

    /** x [B, T, D], c [B, D] → [B, T, out]. */
    public NDArray forward(NDArray x, NDArray c) {
        NDList m = adaLNModulation.forward(c).split(2, 1);
        return linear.forward(SiTBlock.modulate(normFinal.forward(x), m.get(0), m.get(1)));
    }
}
