package maetok4j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static maetok4j.TestFiles.relativeError;
import static org.assertj.core.api.Assertions.assertThat;

class Conv2dTest {

    /**
     * Forward (with and without autograd) and the input, weight and bias gradients against the direct sum, repeated;
     * odd trials leave the input without a gradient, as a patch embedding's images are.
     */
    @ParameterizedTest
    @CsvSource({"3, 5, 3, 1, 1", "16, 8, 3, 1, 1", "4, 6, 4, 2, 1", "3, 4, 8, 8, 0"})
    void gradientsEqualTheDirectSum(int in, int out, int k, int stride, int pad) {
        int b = 2;
        int h = 16;
        int ho = (h + 2 * pad - k) / stride + 1;
        Random r = new Random(7);
        for (int trial = 0; trial < 4; trial++) {
            try (NDManager manager = NDManager.newBaseManager()) {
                Conv2d conv = new Conv2d(in, out, k, stride, pad);
                conv.initialize(manager, trial);
                float[] xs = gaussian(r, b * in * h * h);
                float[] gs = gaussian(r, b * out * ho * ho);
                NDArray x = OwnedArrays.of(manager, xs, new Shape(b, in, h, h));
                NDArray plain = conv.forward(x); // outside autograd
                boolean inputGradient = trial % 2 == 0;
                x.setRequiresGradient(inputGradient);
                NDArray w = conv.stateDict().get("weight").array();
                NDArray bias = conv.stateDict().get("bias").array();
                w.setRequiresGradient(true);
                bias.setRequiresGradient(true);
                NDArray y;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    y = conv.forward(x);
                    gc.backward(y.mul(OwnedArrays.of(manager, gs, y.getShape())).sum());
                }
                float[] ws = w.toFloatArray();
                float[] bs = bias.toFloatArray();
                double[] ey = new double[gs.length];
                double[] ex = new double[xs.length];
                double[] ew = new double[ws.length];
                double[] eb = new double[out];
                for (int n = 0; n < b; n++) {
                    for (int o = 0; o < out; o++) {
                        for (int i = 0; i < ho; i++) {
                            for (int j = 0; j < ho; j++) {
                                int yi = ((n * out + o) * ho + i) * ho + j;
                                ey[yi] = bs[o];
                                eb[o] += gs[yi];
                                for (int c = 0; c < in; c++) {
                                    for (int u = 0; u < k; u++) {
                                        for (int v = 0; v < k; v++) {
                                            int ii = i * stride + u - pad;
                                            int jj = j * stride + v - pad;
                                            if (ii < 0 || jj < 0 || ii >= h || jj >= h) {
                                                continue;
                                            }
                                            int xi = ((n * in + c) * h + ii) * h + jj;
                                            int wi = ((o * in + c) * k + u) * k + v;
                                            ey[yi] += xs[xi] * ws[wi];
                                            ex[xi] += gs[yi] * ws[wi];
                                            ew[wi] += gs[yi] * xs[xi];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                assertThat(relativeError(y.toFloatArray(), ey)).as("forward").isLessThan(1e-5);
                assertThat(relativeError(plain.toFloatArray(), ey)).as("forward without gradient").isLessThan(1e-5);
                if (inputGradient) {
                    assertThat(relativeError(x.getGradient().toFloatArray(), ex)).as("input gradient, trial " + trial).isLessThan(1e-5);
                }
                assertThat(relativeError(w.getGradient().toFloatArray(), ew)).as("weight gradient, trial " + trial).isLessThan(1e-5);
                assertThat(relativeError(bias.getGradient().toFloatArray(), eb)).as("bias gradient, trial " + trial).isLessThan(1e-5);
            }
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }
}
