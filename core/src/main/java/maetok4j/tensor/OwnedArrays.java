package maetok4j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Arrays whose memory libtorch owns. DJL's PyTorch engine wraps Java data ({@code manager.create(float[])},
 * and the constant behind every scalar overload such as {@code x.mul(0.5f)}, {@code x.div(n)},
 * {@code x.maximum(1e-12f)}) around a direct buffer without copying it, and that memory is freed by the garbage
 * collector once the wrapper is unreachable. Autograd keeps the tensors it needs for the backward pass (the
 * constant of a product, a normalisation table) beyond the wrapper's life, so when a collection happens between
 * forward and backward, the backward reads freed memory: rare, timing-dependent NaN or wrong gradients. Every
 * array made from Java data, and every scalar in a differentiable expression, goes through here instead.
 */
public final class OwnedArrays {

    private OwnedArrays() {}

    public static NDArray of(NDManager manager, float[] data, Shape shape) {
        try (NDArray wrapped = manager.create(data, shape)) {
            return wrapped.duplicate();
        }
    }

    public static NDArray of(NDManager manager, float[] data) {
        return of(manager, data, new Shape(data.length));
    }

    public static NDArray of(NDManager manager, double[] data, Shape shape) {
        try (NDArray wrapped = manager.create(data, shape)) {
            return wrapped.duplicate();
        }
    }

    public static NDArray of(NDManager manager, double[] data) {
        return of(manager, data, new Shape(data.length));
    }

    public static NDArray of(NDManager manager, long[] data, Shape shape) {
        try (NDArray wrapped = manager.create(data, shape)) {
            return wrapped.duplicate();
        }
    }

    public static NDArray of(NDManager manager, long[] data) {
        return of(manager, data, new Shape(data.length));
    }

    /** A 0-d constant of {@code like}'s type in {@code like}'s manager, made by libtorch ({@code torch.full}). */
    public static NDArray scalar(NDArray like, double value) {
        return like.getManager().full(new Shape(), (float) value, like.getDataType());
    }

    /** {@code x * value}, safe to differentiate. */
    public static NDArray mul(NDArray x, double value) {
        return x.mul(scalar(x, value));
    }

    /** {@code x / value}, safe to differentiate. */
    public static NDArray div(NDArray x, double value) {
        return x.div(scalar(x, value));
    }

    /** {@code max(x, value)} elementwise, safe to differentiate. */
    public static NDArray maximum(NDArray x, double value) {
        return x.maximum(scalar(x, value));
    }
}
