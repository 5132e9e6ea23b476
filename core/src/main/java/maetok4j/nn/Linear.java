package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** {@code nn.Linear}: weight [out, in], bias [out]; initialised as timm's ViTs do (trunc-normal 0.02, zero bias). */
public final class Linear extends Module {

    public final int in;
    public final int out;
    private final Parameter weight;
    private final Parameter bias;

    public Linear(int in, int out) {
        this(in, out, true, Init.truncNormal(0.02), Init.zeros());
    }

    public Linear(int in, int out, boolean bias, Init weightInit, Init biasInit) {
        this.in = in;
        this.out = out;
        this.weight = parameter("weight", new Shape(out, in), weightInit);
        this.bias = bias ? parameter("bias", new Shape(out), biasInit) : null;
    }

    /** A linear layer that starts at zero, as adaLN modulation layers do. */
    public static Linear zeroInit(int in, int out) {
        return new Linear(in, out, true, Init.zeros(), Init.zeros());
    }

    public Parameter weight() {
        return weight;
    }

    public NDArray forward(NDArray x) {
        return bias == null
                ? ai.djl.nn.core.Linear.linear(x, weight.array()).singletonOrThrow()
                : ai.djl.nn.core.Linear.linear(x, weight.array(), bias.array()).singletonOrThrow();
    }

    /** Multiply-accumulate FLOPs (2 per MAC) for {@code tokens} input rows. */
    public long flops(long tokens) {
        return 2L * tokens * in * out;
    }
}
