package maetok4j.nn;

import ai.djl.ndarray.NDArray;

/** adaLN modulation {@code nn.Sequential(SiLU, Linear)}: the linear layer is child "1", zero-initialised. */
public final class Modulation extends Module {

    public final Linear linear;

    public Modulation(int in, int out) {
        linear = child("1", Linear.zeroInit(in, out));
    }

    public NDArray forward(NDArray cond) {
        return linear.forward(silu(cond));
    }

    /**
     * {@code x·σ(x)}. Not DJL's {@code Activation.swish(x, 1f)}: that multiplies by a constant made from Java data, which
     * autograd keeps for the backward pass and the garbage collector may free first ({@link maetok4j.tensor.OwnedArrays}).
     */
    public static NDArray silu(NDArray x) {
        return x.mul(x.getNDArrayInternal().sigmoid());
    }
}
