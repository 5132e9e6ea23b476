package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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
        if (x.hasGradient()) {
            return im2col(x);
        }
        Shape s = new Shape(stride, stride);
        Shape p = new Shape(padding, padding);
        Shape d = new Shape(1, 1);
        return bias == null
                ? ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.array(), null, s, p, d, 1).singletonOrThrow()
                : ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.array(), bias.array(), s, p, d, 1).singletonOrThrow();
    }

    /**
     * The same convolution as strided slices of the zero-padded input and one matrix product, used when the input needs
     * a gradient: libtorch 2.7.1's convolution input gradient (oneDNN 3.7.1 {@code backward_data}) came out wrong or NaN
     * now and then on an AVX-512 AMD EPYC, while its weight gradient and forward pass were right.
     */
    private NDArray im2col(NDArray x) {
        Shape xs = x.getShape();
        long b = xs.get(0);
        long c = xs.get(1);
        int k = (int) weight.shape().get(2);
        NDManager manager = x.getManager();
        NDArray padded = x;
        if (padding > 0) {
            long h = xs.get(2);
            long w = xs.get(3);
            NDArray rows = manager.zeros(new Shape(b, c, padding, w), x.getDataType());
            padded = NDArrays.concat(new NDList(rows, x, rows), 2); // [B, C, H+2p, W]
            NDArray cols = manager.zeros(new Shape(b, c, h + 2L * padding, padding), x.getDataType());
            padded = NDArrays.concat(new NDList(cols, padded, cols), 3); // [B, C, H+2p, W+2p]
        }
        long ho = (padded.getShape().get(2) - k) / stride + 1;
        long wo = (padded.getShape().get(3) - k) / stride + 1;
        NDList taps = new NDList();
        for (int u = 0; u < k; u++) {
            for (int v = 0; v < k; v++) {
                taps.add(padded.get(new NDIndex(":, :, {}:{}:{}, {}:{}:{}", u, u + stride * (ho - 1) + 1, stride,
                        v, v + stride * (wo - 1) + 1, stride))); // [B, C, Ho, Wo]
            }
        }
        NDArray columns = NDArrays.stack(taps, 2).reshape(b, c * k * k, ho * wo); // [B, C*k*k, Ho*Wo], the weight's order
        long out = weight.shape().get(0);
        NDArray y = weight.array().reshape(out, c * k * k).matMul(columns); // [B, out, Ho*Wo]
        if (bias != null) {
            y = y.add(bias.array().reshape(out, 1));
        }
        return y.reshape(b, out, ho, wo);
    }
}
