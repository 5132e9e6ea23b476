package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import maetok4j.tensor.OwnedArrays;

/** timm's {@code Mlp}: fc1, GELU (exact erf, or the tanh approximation SiT asks for), fc2. */
public final class Mlp extends Module {

    public final Linear fc1;
    public final Linear fc2;
    private final boolean tanhGelu;

    public Mlp(int dim, int hidden) {
        this(dim, hidden, false);
    }

    /** @param tanhGelu {@code GELU(approximate="tanh")} instead of the exact one */
    public Mlp(int dim, int hidden, boolean tanhGelu) {
        fc1 = child("fc1", new Linear(dim, hidden));
        fc2 = child("fc2", new Linear(hidden, dim));
        this.tanhGelu = tanhGelu;
    }

    public NDArray forward(NDArray x) {
        NDArray h = fc1.forward(x);
        return fc2.forward(tanhGelu ? geluTanh(h) : Activation.gelu(h));
    }

    /** ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with every constant an owned array (safe under autograd). */
    static NDArray geluTanh(NDArray x) {
        NDArray inner = x.add(OwnedArrays.mul(x.pow(OwnedArrays.scalar(x, 3)), 0.044715));
        NDArray t = OwnedArrays.mul(inner, Math.sqrt(2 / Math.PI)).tanh();
        return OwnedArrays.mul(x.add(x.mul(t)), 0.5);
    }

    public long flops(long tokens) {
        return fc1.flops(tokens) + fc2.flops(tokens);
    }
}
