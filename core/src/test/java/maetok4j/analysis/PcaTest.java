package maetok4j.analysis;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PcaTest {

    static {
        Engines.configure();
    }

    private static void assertClose(double[] actual, double[] expected, double tol, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as(what + "[" + i + "]").isCloseTo(expected[i], within(tol));
        }
    }

    /** Streams the rows in uneven batches, so the shift and the sums cross batch boundaries. */
    private static Pca.Accumulator accumulate(NDArray x) {
        var acc = new Pca.Accumulator((int) x.getShape().get(1));
        long n = x.getShape().get(0);
        for (long first = 0, size = 7; first < n; first += size, size = size * 2 + 1) {
            acc.add(x.get(first + ":" + Math.min(n, first + size)));
        }
        assertThat(acc.count()).isEqualTo(n);
        return acc;
    }

    @Test
    void denseFitMatchesNumpyAndScikitLearn() throws IOException {
        var scalars = new ObjectMapper().readTree(resource("analysis/pca.json").toFile());
        try (NDManager m = NDManager.newBaseManager();
                Safetensors ref = Safetensors.open(resource("analysis/pca.safetensors"))) {
            NDArray x = ref.read("dense.x", m);
            Pca pca = accumulate(x).fit(48);
            assertThat(pca.size()).isEqualTo(48);
            assertClose(pca.mean(), ref.read("dense.mean", m).toDoubleArray(), 1e-9, "mean");
            assertClose(pca.explainedVariance(), ref.read("dense.variance", m).toDoubleArray(), 1e-9, "variance");
            assertClose(pca.explainedVarianceRatio(), ref.read("dense.ratio", m).toDoubleArray(), 1e-9, "ratio");
            double[] comps = ref.read("dense.components", m).toDoubleArray();
            for (int c = 0; c < 48; c++) {
                assertClose(pca.component(c), java.util.Arrays.copyOfRange(comps, c * 48, c * 48 + 48), 1e-6, "component " + c);
            }
            assertThat(pca.componentsFor(0.9)).isEqualTo(scalars.get("dense.for0.9").asInt());
            assertThat(pca.componentsFor(0.5)).isEqualTo(scalars.get("dense.for0.5").asInt());

            NDArray codes = pca.transform(x.get("0:5").toType(ai.djl.ndarray.types.DataType.FLOAT64, false), 10);
            assertClose(codes.toDoubleArray(), ref.read("dense.codes10", m).toDoubleArray(), 1e-7, "codes");
            assertClose(pca.inverseTransform(codes, 10).toDoubleArray(), ref.read("dense.inverse10", m).toDoubleArray(), 1e-7,
                    "inverse");
            // float32 rows give float32 codes
            assertThat(pca.transform(x.get("0:5"), 10).getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT32);
        }
    }

    @Test
    void subspaceSolverMatchesNumpy() throws IOException {
        try (NDManager m = NDManager.newBaseManager();
                Safetensors ref = Safetensors.open(resource("analysis/pca.safetensors"))) {
            Pca pca = accumulate(ref.read("subspace.x", m)).fit(12, new SplittableRandom(5), false);
            assertClose(pca.explainedVariance(), ref.read("subspace.variance", m).toDoubleArray(), 1e-9, "variance");
            assertClose(pca.explainedVarianceRatio(), ref.read("subspace.ratio", m).toDoubleArray(), 1e-9, "ratio");
            double[] comps = ref.read("subspace.components", m).toDoubleArray();
            for (int c = 0; c < 12; c++) {
                assertClose(pca.component(c), java.util.Arrays.copyOfRange(comps, c * 160, c * 160 + 160), 1e-6, "component " + c);
            }
            // 12 components do not reach 99% of this spectrum's variance
            assertThatThrownBy(() -> pca.componentsFor(0.99)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void rankDeficientDataKeepsOrthonormalComponents() {
        // 30 rows of dimension 1200 (beyond the dense limit): rank 29, and the solver's block is larger
        var rng = new SplittableRandom(9);
        float[] v = new float[30 * 1200];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(v, new ai.djl.ndarray.types.Shape(30, 1200));
            var acc = new Pca.Accumulator(1200);
            acc.add(x);
            Pca pca = acc.fit(30, new SplittableRandom(1), false);
            double[] var = pca.explainedVariance();
            assertThat(var[28]).isGreaterThan(0.1);
            assertThat(var[29]).isCloseTo(0.0, within(1e-9));
            for (int a = 0; a < 29; a++) {
                for (int b = a; b < 29; b++) {
                    double dot = 0;
                    double[] ca = pca.component(a);
                    double[] cb = pca.component(b);
                    for (int i = 0; i < 1200; i++) {
                        dot += ca[i] * cb[i];
                    }
                    assertThat(dot).isCloseTo(a == b ? 1.0 : 0.0, within(1e-9));
                }
            }
            // all 29 informative components reconstruct the training rows exactly
            NDArray back = pca.inverseTransform(pca.transform(x, 29), 29);
            assertThat(back.sub(x).abs().max().getFloat()).isLessThan(1e-4f);
        }
    }

    @Test
    void rejectsBadArguments() {
        var acc = new Pca.Accumulator(4);
        assertThatThrownBy(() -> acc.fit(2)).isInstanceOf(IllegalStateException.class);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> acc.add(m.zeros(new ai.djl.ndarray.types.Shape(3, 5))))
                    .isInstanceOf(IllegalArgumentException.class);
            acc.add(m.randomNormal(new ai.djl.ndarray.types.Shape(3, 4)).mul(0).add(m.arange(12f).reshape(3, 4)));
            assertThatThrownBy(() -> acc.fit(4)).hasMessageContaining("min(n, d)");
        }
    }

    @Test
    void lapackAndEjmlAgreeOnALargeSymmetricMatrix() {
        int d = 400;
        SplittableRandom rng = new SplittableRandom(9);
        double[] b = new double[d * d];
        for (int i = 0; i < b.length; i++) {
            b[i] = rng.nextGaussian();
        }
        double[] a = new double[d * d]; // B·Bᵀ: symmetric, positive semi-definite, a spread-out spectrum
        for (int i = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                double v = 0;
                for (int t = 0; t < d; t++) {
                    v += b[i * d + t] * b[j * d + t];
                }
                a[i * d + j] = v;
                a[j * d + i] = v;
            }
        }
        double[][] lapack = Pca.lapackEigen(a.clone(), d, 20);
        double[][] ejml = Pca.ejmlEigen(a.clone(), d, 20);
        for (int c = 0; c < 20; c++) {
            assertThat(lapack[0][c]).isCloseTo(ejml[0][c], within(1e-9 * ejml[0][0]));
            double dot = 0;
            for (int j = 0; j < d; j++) {
                dot += lapack[1][c * d + j] * ejml[1][c * d + j];
            }
            assertThat(Math.abs(dot)).as("component %d", c).isCloseTo(1, within(1e-7));
        }
    }
}
