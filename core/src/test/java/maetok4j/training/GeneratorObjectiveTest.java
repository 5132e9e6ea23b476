package maetok4j.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class GeneratorObjectiveTest {

    static {
        Engines.configure();
    }

    /** [B, N, D] = [1, 2, 2]: token 0 masked with squared errors 1 and 4, token 1 unmasked with 9 and 16. */
    @Test
    void maskedMseAveragesMaskedTokensOnly() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray pred = m.create(new float[] {1, 2, 3, 4}, new Shape(1, 2, 2));
            NDArray target = m.zeros(new Shape(1, 2, 2));
            NDArray mask = m.create(new float[] {1, 0}, new Shape(1, 2));
            assertThat(GeneratorObjective.maskedMse(pred, target, mask).getFloat()).isEqualTo(2.5f); // (1+4)/1/2
            assertThat(GeneratorObjective.maskedMse(pred, target, null).getFloat()).isEqualTo(7.5f); // (1+4+9+16)/4
        }
    }

    @Test
    void theAuxiliaryLossIgnoresPredictionsAtVisibleTokens() {
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(3);
            float[] p = new float[2 * 6 * 5];
            float[] t = new float[p.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = (float) rng.nextGaussian();
                t[i] = (float) rng.nextGaussian();
            }
            float[] maskValues = {1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0};
            NDArray mask = m.create(maskValues, new Shape(2, 6));
            NDArray target = m.create(t, new Shape(2, 6, 5));
            float base = GeneratorObjective.maskedMse(m.create(p, new Shape(2, 6, 5)), target, mask).getFloat();
            float[] visibleChanged = p.clone();
            float[] maskedChanged = p.clone();
            for (int tok = 0; tok < 12; tok++) {
                for (int d = 0; d < 5; d++) {
                    if (maskValues[tok] == 0) {
                        visibleChanged[tok * 5 + d] += 100;
                    } else {
                        maskedChanged[tok * 5 + d] += 1;
                    }
                }
            }
            assertThat(GeneratorObjective.maskedMse(m.create(visibleChanged, new Shape(2, 6, 5)), target, mask).getFloat()).isEqualTo(base);
            assertThat(GeneratorObjective.maskedMse(m.create(maskedChanged, new Shape(2, 6, 5)), target, mask).getFloat()).isNotEqualTo(base);
        }
    }

    @Test
    void patchifyInvertsThePixelHeadsUnpatchify() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray tokens = m.arange(2 * 4 * 12f).reshape(2, 4, 12); // [B, (h·w), p·p·3] with p = 2
            NDArray image = unpatchify(tokens, 2);
            assertThat(image.getShape()).isEqualTo(new Shape(2, 3, 4, 4));
            // token 1 (row 0, column 1), in-patch (row 1, column 0), channel 2 → index (1·2 + 0)·3 + 2 = 8
            assertThat(image.getFloat(0, 2, 1, 2)).isEqualTo(12 + 8);
            assertThat(GeneratorObjective.patchify(image, 2).toFloatArray()).containsExactly(tokens.toFloatArray());
        }
    }

    /** The closed form of ∂L/∂W through the pixel head equals autograd's. */
    @Test
    void headGradientNormEqualsAutograd() {
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(7);
            NDArray tokens = m.create(gaussian(rng, 2 * 4 * 3), new Shape(2, 4, 3)); // [B, N, D]
            NDArray w = m.create(gaussian(rng, 12 * 3), new Shape(12, 3)); // [P, D]
            NDArray b = m.create(gaussian(rng, 12), new Shape(12));
            NDArray upstream = m.create(gaussian(rng, 2 * 3 * 4 * 4), new Shape(2, 3, 4, 4)); // ∂L/∂x̂
            w.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray xhat = unpatchify(tokens.matMul(w.transpose()).add(b), 2);
                gc.backward(xhat.mul(upstream).sum());
            }
            double autograd = Math.sqrt(w.getGradient().square().sum().getFloat());
            assertThat(GeneratorObjective.headGradNorm(upstream, tokens)).isCloseTo(autograd, within(1e-4 * autograd));
        }
    }

    /** The decoder's unpatchify (maetok4j.tokenizer.Decoder), restated. */
    private static NDArray unpatchify(NDArray x, int p) {
        long b = x.getShape().get(0);
        int h = (int) Math.round(Math.sqrt(x.getShape().get(1)));
        return x.reshape(b, h, h, p, p, 3).transpose(0, 5, 1, 3, 2, 4).reshape(b, 3, (long) h * p, (long) h * p);
    }

    private static float[] gaussian(SplittableRandom rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }
}
