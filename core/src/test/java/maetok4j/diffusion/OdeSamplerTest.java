package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The samplers on a problem with a known answer: Gaussian data, whose velocity field is exact in closed form. */
class OdeSamplerTest {

    static {
        Engines.configure();
    }

    /**
     * Data x₀ ~ N(μ_y, s²) per coordinate, where the label y picks μ (the null label: μ = 0). On the path
     * x_t = (1 − t)·x₀ + t·ε, x_t ~ N((1 − t)·μ, (1 − t)²s² + t²), and v = E[ε − x₀ | x_t] =
     * (x_t − (1 − t)·μ)·(t − (1 − t)·s²) / ((1 − t)²s² + t²) − μ.
     */
    record Gaussian(double[] means, double s) implements VelocityModel {
        @Override
        public NDArray velocity(NDArray x, NDArray t, NDArray y) {
            float[] xs = x.toFloatArray();
            float[] ts = t.toFloatArray();
            long[] ys = y.toLongArray();
            int per = xs.length / ts.length;
            float[] v = new float[xs.length];
            for (int b = 0; b < ts.length; b++) {
                double tt = ts[b];
                double mu = ys[b] == nullLabel() ? 0 : means[(int) ys[b]];
                double var = (1 - tt) * (1 - tt) * s * s + tt * tt;
                for (int i = 0; i < per; i++) {
                    double centred = xs[b * per + i] - (1 - tt) * mu;
                    v[b * per + i] = (float) (centred * (tt - (1 - tt) * s * s) / var - mu);
                }
            }
            return OwnedArrays.of(x.getManager(), v, x.getShape());
        }

        @Override
        public long nullLabel() {
            return means.length;
        }
    }

    private static double[] moments(NDArray samples) {
        double[] v = samples.toType(DataType.FLOAT64, false).toDoubleArray();
        double mean = 0;
        for (double e : v) {
            mean += e;
        }
        mean /= v.length;
        double var = 0;
        for (double e : v) {
            var += (e - mean) * (e - mean);
        }
        return new double[] {mean, var / v.length};
    }

    @Test
    void eulerAndHeunCarryNoiseToTheDataDistribution() {
        Gaussian model = new Gaussian(new double[] {2.0, -1.0}, 0.5);
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(1);
            int n = 4000;
            float[] e = new float[n * 4];
            for (int i = 0; i < e.length; i++) {
                e[i] = (float) rng.nextGaussian();
            }
            NDArray noise = OwnedArrays.of(m, e, new Shape(n, 2, 2));
            long[] zeros = new long[n]; // every sample labelled 0: μ = 2
            NDArray labels = OwnedArrays.of(m, zeros);
            double[] heun = moments(OdeSampler.sample(model, noise, labels, 50, true, Guidance.none(), s -> {}));
            assertThat(heun[0]).isCloseTo(2.0, within(0.03));
            assertThat(heun[1]).isCloseTo(0.25, within(0.02));
            double[] euler = moments(OdeSampler.sample(model, noise, labels, 200, false, Guidance.none(), s -> {}));
            assertThat(euler[0]).isCloseTo(2.0, within(0.03));
            assertThat(euler[1]).isCloseTo(0.25, within(0.03));
            // guidance w over the whole path pushes the mean along (μ_c − μ_u): w = 2 lands beyond μ = 2
            double[] guided = moments(OdeSampler.sample(model, noise, labels, 50, true, new Guidance(2, 0, 1), s -> {}));
            assertThat(guided[0]).isGreaterThan(2.5);
        }
    }

    @Test
    void eulerMaruyamaReachesTheDataDistributionAndRepeatsWithItsSeed() {
        Gaussian model = new Gaussian(new double[] {2.0, -1.0}, 0.5);
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(2);
            int n = 4000;
            float[] e = new float[n * 4];
            for (int i = 0; i < e.length; i++) {
                e[i] = (float) rng.nextGaussian();
            }
            NDArray noise = OwnedArrays.of(m, e, new Shape(n, 2, 2));
            long[] second = new long[n];
            java.util.Arrays.fill(second, 1); // μ = -1
            NDArray labels = OwnedArrays.of(m, second);
            NDArray a = SdeSampler.sample(model, noise, labels, 250, Guidance.none(), PathType.LINEAR, 7, s -> {});
            double[] sde = moments(a);
            assertThat(sde[0]).isCloseTo(-1.0, within(0.03));
            // the last step, from t = 0.04 to 0, takes the mean only, as the reference does
            assertThat(sde[1]).isCloseTo(0.25, within(0.03));
            NDArray b = SdeSampler.sample(model, noise, labels, 250, Guidance.none(), PathType.LINEAR, 7, s -> {});
            assertThat(b.toDoubleArray()).containsExactly(a.toDoubleArray());
            NDArray c = SdeSampler.sample(model, noise, labels, 250, Guidance.none(), PathType.LINEAR, 8, s -> {});
            assertThat(c.toDoubleArray()).isNotEqualTo(a.toDoubleArray());
        }
    }

    @Test
    void autoguidanceByTheModelItselfChangesNothingAndByAWeakerModelPushesAwayFromIt() {
        Gaussian model = new Gaussian(new double[] {2.0, -1.0}, 0.5);
        Gaussian weaker = new Gaussian(new double[] {1.0, -0.5}, 0.5);
        try (NDManager m = NDManager.newBaseManager()) {
            SplittableRandom rng = new SplittableRandom(3);
            int n = 2000;
            float[] e = new float[n * 2];
            for (int i = 0; i < e.length; i++) {
                e[i] = (float) rng.nextGaussian();
            }
            NDArray noise = OwnedArrays.of(m, e, new Shape(n, 2));
            NDArray labels = OwnedArrays.of(m, new long[n]); // μ = 2
            NDArray plain = OdeSampler.sample(model, noise, labels, 20, false, Guidance.none(), s -> {});
            NDArray self = OdeSampler.sample(model, noise, labels, 20, false, Guidance.autoguidance(3, 0, 1, model), s -> {});
            assertThat(self.toDoubleArray()).containsExactly(plain.toDoubleArray(), within(1e-5));
            // the guide says μ = 1; extrapolating from it with w = 2 lands beyond the model's μ = 2
            double[] auto = moments(OdeSampler.sample(model, noise, labels, 20, false, Guidance.autoguidance(2, 0, 1, weaker), s -> {}));
            assertThat(auto[0]).isGreaterThan(2.5);
            // outside the interval nothing changes
            NDArray off = OdeSampler.sample(model, noise, labels, 20, false, Guidance.autoguidance(2, 0.5, 0.5, weaker), s -> {});
            assertThat(moments(off)[0]).isCloseTo(moments(plain)[0], within(0.2));
        }
    }

    @Test
    void aSdeSampleDependsOnItsSeedNotOnItsBatch() {
        Gaussian model = new Gaussian(new double[] {2.0, -1.0}, 0.5);
        try (NDManager m = NDManager.newBaseManager()) {
            float[] e = new float[6 * 3];
            SplittableRandom rng = new SplittableRandom(4);
            for (int i = 0; i < e.length; i++) {
                e[i] = (float) rng.nextGaussian();
            }
            NDArray noise = OwnedArrays.of(m, e, new Shape(6, 3));
            NDArray labels = OwnedArrays.of(m, new long[] {0, 1, 0, 1, 0, 2});
            Guidance cfg = new Guidance(2, 0, 0.7);
            double[] all = SdeSampler.sample(model, noise, labels, 20, cfg, PathType.LINEAR, 11, s -> {}).toDoubleArray();
            double[] tail = SdeSampler.sample(model, noise.get("3:"), labels.get("3:"), 20, cfg, PathType.LINEAR, new long[] {14, 15, 16}, s -> {})
                    .toDoubleArray();
            assertThat(tail).containsExactly(java.util.Arrays.copyOfRange(all, 9, 18), within(1e-12));
        }
    }
}
