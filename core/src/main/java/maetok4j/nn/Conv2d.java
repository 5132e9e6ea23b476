package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** {@code nn.Conv2d} with square kernel, stride and zero padding; PyTorch's default initialisation. */
public final class Conv2d extends Module {

    private final Parameter weight;
    private final Parameter bias;
    private final int stride;
    private final int padding;

    public Conv2d(int in, int out, int kernel, int stride, int padding) {
        long fanIn = (long) in * kernel * kernel;
        weight = parameter("weight", new Shape(out, in, kernel, kernel), Init.uniformFanIn(fanIn));
        bias = parameter("bias", new Shape(out), Init.uniformFanIn(fanIn));
        this.stride = stride;
        this.padding = padding;
    }

    /** x [B, in, H, W] → [B, out, H', W']. */
    public NDArray forward(NDArray x) {
        return ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.array(), bias.array(),
                new Shape(stride, stride), new Shape(padding, padding), new Shape(1, 1), 1).singletonOrThrow();
    }
}
