package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class TransportTest {

    static {
        Engines.configure();
    }

    @Test
    void theLinearPathMixesDataAndNoiseAndTargetsTheirDifference() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] v = new float[6 * 4 * 3];
            for (int i = 0; i < v.length; i++) {
                v[i] = i % 7 - 3;
            }
            NDArray x0 = OwnedArrays.of(m, v, new Shape(6, 4, 3));
            Transport.Draw d = Transport.draw(x0, PathType.LINEAR, Transport.TimeSampling.UNIFORM, new SplittableRandom(3), m);
            float[] t = d.t().toFloatArray();
            float[] e = d.noise().toFloatArray();
            float[] in = d.input().toFloatArray();
            float[] target = d.target().toFloatArray();
            for (int i = 0; i < v.length; i++) {
                float ti = t[i / 12];
                assertThat(in[i]).isCloseTo((1 - ti) * v[i] + ti * e[i], within(1e-5f));
                assertThat(target[i]).isCloseTo(e[i] - v[i], within(1e-5f));
            }
            assertThat(Transport.loss(d.target(), d.target()).toFloatArray()).containsOnly(0f);
            float[] perSample = Transport.loss(d.target().add(2f), d.target()).toFloatArray();
            assertThat(perSample).hasSize(6).containsOnly(4f);
            // same generator seed, same draws
            Transport.Draw again = Transport.draw(x0, PathType.LINEAR, Transport.TimeSampling.UNIFORM, new SplittableRandom(3), m);
            assertThat(again.input().toFloatArray()).containsExactly(in);
        }
    }

    @Test
    void lognormalTimesCentreOnEqualSignalAndNoise() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x0 = m.zeros(new Shape(4001, 1, 1));
            for (PathType path : PathType.values()) {
                float[] t = Transport.draw(x0, path, Transport.TimeSampling.LOGNORMAL, new SplittableRandom(5), m).t().toFloatArray();
                Arrays.sort(t);
                // the median ratio σ/α is exp(0) = 1: t = 0.5 on both paths
                assertThat((double) t[2000]).as(path.name()).isCloseTo(0.5, within(0.02));
                assertThat(t[0]).isGreaterThan(0f);
                assertThat(t[4000]).isLessThan(1f);
                double[] c = path.coefficients(t[2000]);
                assertThat(c[2] / c[0]).isCloseTo(1, within(0.1));
            }
        }
    }
}
