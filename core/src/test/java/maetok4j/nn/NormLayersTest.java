package maetok4j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** BatchNorm, SpectralNorm and Conv1d against values computed by hand in double precision. */
class NormLayersTest {

    static {
        Engines.configure();
    }

    private static void set(Module m, String key, NDManager mgr, float... values) {
        Parameter p = m.stateDict().get(key);
        p.set(mgr.create(values, p.shape()));
    }

    private static float[] get(Module m, String key) {
        return m.stateDict().get(key).array().toFloatArray();
    }

    @Test
    void batchNormTrainsOnBatchStatisticsAndMovesTheRunningOnes() {
        try (NDManager m = NDManager.newBaseManager()) {
            BatchNorm bn = new BatchNorm(2, 1e-5, 0.1, Init.constant(1f));
            bn.initialize(m, 0);
            set(bn, "weight", m, 2f, 0.5f);
            set(bn, "bias", m, 0.1f, -1f);
            set(bn, "running_mean", m, 0.3f, -0.2f);
            set(bn, "running_var", m, 1.5f, 0.7f);
            assertThat(bn.stateDict().keySet()).containsExactly("weight", "bias", "running_mean", "running_var", "num_batches_tracked");
            float[] xs = {1, 2, -1, 0.5f, 3, 4, 0, -2}; // [B=2, C=2, L=2]
            NDArray x = m.create(xs, new Shape(2, 2, 2));
            bn.train(true);
            float[] y = bn.forward(x).toFloatArray();
            float[] w = {2f, 0.5f};
            float[] b = {0.1f, -1f};
            double[] rm = {0.3, -0.2};
            double[] rv = {1.5, 0.7};
            for (int c = 0; c < 2; c++) {
                double[] v = {xs[c * 2], xs[c * 2 + 1], xs[4 + c * 2], xs[4 + c * 2 + 1]};
                double mean = (v[0] + v[1] + v[2] + v[3]) / 4;
                double ss = 0;
                for (double e : v) {
                    ss += (e - mean) * (e - mean);
                }
                double biased = ss / 4;
                for (int i = 0; i < 4; i++) {
                    int idx = (i / 2) * 4 + c * 2 + i % 2;
                    assertThat((double) y[idx]).isCloseTo((v[i] - mean) / Math.sqrt(biased + 1e-5) * w[c] + b[c], within(1e-5));
                }
                rm[c] = 0.9 * rm[c] + 0.1 * mean;
                rv[c] = 0.9 * rv[c] + 0.1 * ss / 3; // unbiased
            }
            assertThat(get(bn, "running_mean")[0]).isCloseTo((float) rm[0], within(1e-6f));
            assertThat(get(bn, "running_mean")[1]).isCloseTo((float) rm[1], within(1e-6f));
            assertThat(get(bn, "running_var")[0]).isCloseTo((float) rv[0], within(1e-6f));
            assertThat(get(bn, "running_var")[1]).isCloseTo((float) rv[1], within(1e-6f));
            assertThat(get(bn, "num_batches_tracked")).containsExactly(1f);

            bn.train(false);
            float[] e = bn.forward(x).toFloatArray();
            for (int i = 0; i < 8; i++) {
                int c = (i / 2) % 2;
                assertThat((double) e[i]).isCloseTo((xs[i] - rm[c]) / Math.sqrt(rv[c] + 1e-5) * w[c] + b[c], within(1e-5));
            }
            assertThat(get(bn, "num_batches_tracked")).containsExactly(1f);
            assertThatThrownBy(() -> bn.forward(m.zeros(new Shape(2, 3, 2)))).hasMessageContaining("expects [B, 2, ...]");
        }
    }

    @Test
    void batchNormGradientsReachInputAndAffineButNotTheRunningStatistics() {
        try (NDManager m = NDManager.newBaseManager()) {
            BatchNorm bn = new BatchNorm(3);
            bn.initialize(m, 0);
            bn.train(true);
            bn.trainableParameters().values().forEach(p -> p.array().setRequiresGradient(true));
            NDArray x = m.create(new float[] {1, 2, 3, 4, 5, 6, 0, 1, 7, 2, 2, 9}, new Shape(2, 3, 2));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(bn.forward(x).mul(x).sum());
            }
            // d/dbias of sum(y * x) = sum of x per channel
            assertThat(bn.stateDict().get("bias").array().getGradient().toFloatArray()).containsExactly(1 + 2 + 0 + 1, 3 + 4 + 7 + 2, 5 + 6 + 2 + 9f);
            assertThat(x.getGradient().abs().sum().getFloat()).isGreaterThan(0f);
            assertThat(bn.stateDict().get("running_mean").array().hasGradient()).isFalse();
        }
    }

    /** W = [[1, 2], [3, 4]] as a Conv1d(1 → 2, k = 2) kernel, u0 = (1, 0), v0 = (0, 1). */
    @Test
    void spectralNormRunsOnePowerIterationPerTrainingForward() {
        try (NDManager m = NDManager.newBaseManager()) {
            Conv1d conv = new Conv1d(1, 2, 2, 0, Conv1d.Padding.ZEROS, true);
            assertThat(conv.stateDict().keySet()).containsExactly("bias", "weight_orig", "weight_u", "weight_v");
            assertThat(conv.trainableParameters().keySet()).containsExactly("bias", "weight_orig");
            conv.initialize(m, 3);
            assertThat((double) conv.stateDict().get("weight_u").array().norm().getFloat()).isCloseTo(1, within(1e-6));
            set(conv, "weight_orig", m, 1, 2, 3, 4);
            set(conv, "bias", m, 0, 0);
            set(conv, "weight_u", m, 1, 0);
            set(conv, "weight_v", m, 0, 1);
            NDArray x = m.create(new float[] {1f, -1f}, new Shape(1, 1, 2));
            double[][] w = {{1, 2}, {3, 4}};

            // eval: sigma from the stored vectors, u·W v = w[0][1] = 2
            conv.train(false);
            float[] y = conv.forward(x).toFloatArray();
            assertThat((double) y[0]).isCloseTo((1 - 2) / 2.0, within(1e-6));
            assertThat((double) y[1]).isCloseTo((3 - 4) / 2.0, within(1e-6));
            assertThat(get(conv, "weight_u")).containsExactly(1f, 0f);

            conv.train(true);
            double[] u = {1, 0};
            double[] v = unit(w[0][0] * u[0] + w[1][0] * u[1], w[0][1] * u[0] + w[1][1] * u[1]); // Wᵀu
            u = unit(w[0][0] * v[0] + w[0][1] * v[1], w[1][0] * v[0] + w[1][1] * v[1]); // W v
            double sigma = u[0] * (w[0][0] * v[0] + w[0][1] * v[1]) + u[1] * (w[1][0] * v[0] + w[1][1] * v[1]);
            y = conv.forward(x).toFloatArray();
            assertThat((double) y[0]).isCloseTo((1 - 2) / sigma, within(1e-6));
            assertThat((double) y[1]).isCloseTo((3 - 4) / sigma, within(1e-6));
            assertThat((double) get(conv, "weight_u")[0]).isCloseTo(u[0], within(1e-6));
            assertThat((double) get(conv, "weight_u")[1]).isCloseTo(u[1], within(1e-6));
            assertThat((double) get(conv, "weight_v")[0]).isCloseTo(v[0], within(1e-6));
            assertThat((double) get(conv, "weight_v")[1]).isCloseTo(v[1], within(1e-6));
        }
    }

    private static double[] unit(double a, double b) {
        double n = Math.sqrt(a * a + b * b);
        return new double[] {a / n, b / n};
    }

    /** Two training forwards before one backward (real, then fake) must not disturb the first graph. */
    @Test
    void spectralNormSupportsTwoForwardsBeforeBackward() {
        try (NDManager m = NDManager.newBaseManager()) {
            Conv1d conv = new Conv1d(2, 2, 3, 1, Conv1d.Padding.CIRCULAR, true);
            conv.initialize(m, 5);
            conv.train(true);
            conv.trainableParameters().values().forEach(p -> p.array().setRequiresGradient(true));
            NDArray x = m.create(new float[] {1, 2, 3, 4, -1, 0, 2, 1}, new Shape(1, 2, 4));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray a = conv.forward(x).sum();
                NDArray b = conv.forward(x).square().sum();
                gc.backward(a.add(b));
            }
            assertThat(conv.stateDict().get("weight_orig").array().getGradient().abs().sum().getFloat()).isGreaterThan(0f);
            assertThat(conv.stateDict().get("weight_u").array().hasGradient()).isFalse();
        }
    }

    @Test
    void conv1dPadsCircularly() {
        try (NDManager m = NDManager.newBaseManager()) {
            Conv1d conv = new Conv1d(1, 1, 3, 1, Conv1d.Padding.CIRCULAR, false);
            assertThat(conv.stateDict().keySet()).containsExactly("weight", "bias");
            conv.initialize(m, 0);
            set(conv, "weight", m, 1, 10, 100);
            set(conv, "bias", m, 0.5f);
            float[] y = conv.forward(m.create(new float[] {1, 2, 3, 4}, new Shape(1, 1, 4))).toFloatArray();
            // padded [4 | 1 2 3 4 | 1]: out[t] = p[t] + 10 p[t+1] + 100 p[t+2] + 0.5
            assertThat(y).containsExactly(4 + 10 + 200 + 0.5f, 1 + 20 + 300 + 0.5f, 2 + 30 + 400 + 0.5f, 3 + 40 + 100 + 0.5f);
            Conv1d zeros = new Conv1d(1, 1, 3, 1, Conv1d.Padding.ZEROS, false);
            zeros.initialize(m, 0);
            set(zeros, "weight", m, 1, 10, 100);
            set(zeros, "bias", m, 0f);
            assertThat(zeros.forward(m.create(new float[] {1, 2, 3, 4}, new Shape(1, 1, 4))).toFloatArray())
                    .containsExactly(210, 321, 432, 43);
            assertThatThrownBy(() -> conv.forward(m.zeros(new Shape(1, 1, 0)))).hasMessageContaining("circular padding 1 exceeds");
        }
    }
}
