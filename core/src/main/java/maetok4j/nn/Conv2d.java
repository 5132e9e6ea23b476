package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** {@code nn.Conv2d} with square kernel, stride and zero padding; PyTorch's default initialisation unless given. */
public final class Conv2d extends Module {

    private final Parameter weight;
    private final Parameter bias;
    private final int stride;
    private final int padding;

    public Conv2d(int in, int out, int kernel, int stride, int padding) {
        this(in, out, kernel, stride, padding, true, Init.uniformFanIn((long) in * kernel * kernel));
    }

    /**
     * A convolution whose weight starts from {@code weightInit}; the bias, when present, keeps PyTorch's
     * default U(±1/sqrt(fan_in)) (initialisers such as taming's touch only the weight).
     */
    public Conv2d(int in, int out, int kernel, int stride, int padding, boolean bias, Init weightInit) {
        if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || padding < 0) {
            throw new IllegalArgumentException("Conv2d needs positive channels, kernel and stride, padding >= 0");
        }
        long fanIn = (long) in * kernel * kernel;
        this.weight = parameter("weight", new Shape(out, in, kernel, kernel), weightInit);
        this.bias = bias ? parameter("bias", new Shape(out), Init.uniformFanIn(fanIn)) : null;
        this.stride = stride;
        this.padding = padding;
    }

    /** x [B, in, H, W] → [B, out, H', W']. */
    public NDArray forward(NDArray x) {
        Shape s = new Shape(stride, stride);
        Shape p = new Shape(padding, padding);
        Shape d = new Shape(1, 1);
        return bias == null
                ? ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.array(), null, s, p, d, 1).singletonOrThrow()
                : ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.array(), bias.array(), s, p, d, 1).singletonOrThrow();
    }
}
