package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** adaLN modulation {@code nn.Sequential(SiLU, Linear)}: the linear layer is child "1", zero-initialised. */
public final class Modulation extends Module {

    public final Linear linear;

    public Modulation(int in, int out) {
        linear = child("1", Linear.zeroInit(in, out));
    }

    public NDArray forward(NDArray cond) {
        return linear.forward(Activation.swish(cond, 1f));
    }
}
