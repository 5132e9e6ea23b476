package maetok4j.nn;

import java.util.SplittableRandom;

/**
 * How a parameter is filled when a model is built from scratch. Values are drawn in Java from a
 * generator seeded per parameter name, so a model's initial weights depend only on the seed and the
 * architecture, not on the order of construction or the native library's RNG.
 */
@FunctionalInterface
public interface Init {

    /** Fills {@code values} (C order of {@code shape}). */
    void fill(float[] values, long[] shape, SplittableRandom rng);

    static Init zeros() {
        return (v, s, r) -> {};
    }

    static Init constant(float c) {
        return (v, s, r) -> java.util.Arrays.fill(v, c);
    }

    static Init normal(double std) {
        return (v, s, r) -> {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * std);
            }
        };
    }

    /** timm's {@code trunc_normal_(std=std)}: a normal truncated to the absolute interval [-2, 2]. */
    static Init truncNormal(double std) {
        return (v, s, r) -> {
            for (int i = 0; i < v.length; i++) {
                double x;
                do {
                    x = r.nextGaussian() * std;
                } while (x < -2 || x > 2);
                v[i] = (float) x;
            }
        };
    }

    /**
     * {@code xavier_uniform_} on the tensor viewed as a matrix [shape[0], rest]: U(±sqrt(6 / (fan_in + fan_out))) with
     * fan_out = shape[0], fan_in = the product of the other axes. For a Linear weight this is torch's own; for a
     * convolution kernel it is the "initialise like nn.Linear" of DiT/SiT ({@code xavier_uniform_(w.view([w.shape[0], -1]))}),
     * not torch's conv fans, which count the receptive field on both sides.
     */
    static Init xavierUniform() {
        return (v, s, r) -> {
            if (s.length < 2 || v.length == 0) {
                throw new IllegalArgumentException("xavier initialisation needs a tensor of at least 2 axes, got " + java.util.Arrays.toString(s));
            }
            long fanOut = s[0];
            long fanIn = v.length / fanOut;
            double bound = Math.sqrt(6.0 / (fanIn + fanOut));
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextDouble(-bound, bound);
            }
        };
    }

    /** PyTorch's default for Conv2d/Linear weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    static Init uniformFanIn(long fanIn) {
        double bound = 1.0 / Math.sqrt(fanIn);
        return (v, s, r) -> {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextDouble(-bound, bound);
            }
        };
    }
}
