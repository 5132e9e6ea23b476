package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** timm's {@code Mlp}: fc1, exact (erf) GELU, fc2. */
public final class Mlp extends Module {

    public final Linear fc1;
    public final Linear fc2;

    public Mlp(int dim, int hidden) {
        fc1 = child("fc1", new Linear(dim, hidden));
        fc2 = child("fc2", new Linear(hidden, dim));
    }

    public NDArray forward(NDArray x) {
        return fc2.forward(Activation.gelu(fc1.forward(x)));
    }

    public long flops(long tokens) {
        return fc1.flops(tokens) + fc2.flops(tokens);
    }
}
