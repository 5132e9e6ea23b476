package maetok4j.analysis;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Against scikit-learn 1.2.1 on probe.safetensors (see make_probe.py): 800 training rows, 400 test, 30 features, 5 classes. */
class LogisticRegressionTest {

    static {
        Engines.configure();
    }

    private static final int CLASSES = 5;
    private static final int D = 30;

    private static JsonNode scalars() throws IOException {
        return new ObjectMapper().readTree(resource("analysis/probe.json").toFile());
    }

    private static void assertClose(double[] actual, double[] expected, double tol, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as(what + "[" + i + "]").isCloseTo(expected[i], within(tol));
        }
    }

    /** Every native array alive in the process: base managers are children of the engine's system manager. */
    static int liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return ((BaseNDManager) probe.getParentManager()).getManagedArrays().size();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"c1", "c0.01"})
    void fitMatchesScikitLearn(String name) throws IOException {
        JsonNode ref = scalars().get(name);
        double c = ref.get("c").asDouble();
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray x = file.read("train.x", m);
            long[] y = file.read("train.y", m).toLongArray();
            NDArray xTest = file.read("test.x", m);
            long[] yTest = file.read("test.y", m).toLongArray();
            assertThat(x.getDataType()).isEqualTo(DataType.FLOAT32);

            LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES, new LogisticRegression.Config(c, 5000, 1e-8));
            assertThat(probe.converged()).isTrue();
            assertThat(probe.classes()).isEqualTo(CLASSES);
            assertThat(probe.dimension()).isEqualTo(D);

            // the acceptance criterion: test accuracy within one point of scikit-learn's
            assertThat(probe.accuracy(xTest, yTest)).isCloseTo(ref.get("test_accuracy").asDouble(), within(0.01));
            assertThat(probe.accuracy(x, y)).isCloseTo(ref.get("train_accuracy").asDouble(), within(0.01));

            // scikit-learn stops on its relative-decrease test about 2e-7 above the optimum
            double objective = probe.loss(x, y);
            assertThat(objective).isCloseTo(ref.get("objective").asDouble(), within(1e-6 * objective));
            assertThat(objective).isLessThanOrEqualTo(ref.get("objective").asDouble());
            assertThat(objective).isCloseTo(ref.at("/optimum/objective").asDouble(), within(1e-12 * objective));

            // strictly convex: the unique optimum, which scikit-learn's own coefficients miss by up to 2e-3
            assertClose(probe.coefficients(), file.read(name + ".optimum.coef", m).toDoubleArray(), 1e-7, "W");
            assertClose(probe.intercepts(), file.read(name + ".optimum.intercept", m).toDoubleArray(), 1e-6, "b");
            assertClose(probe.coefficients(), file.read(name + ".coef", m).toDoubleArray(),
                    1.2 * ref.at("/optimum/coef_distance").asDouble(), "W vs scikit-learn");
            assertClose(probe.intercepts(), file.read(name + ".intercept", m).toDoubleArray(),
                    1.2 * ref.at("/optimum/intercept_distance").asDouble(), "b vs scikit-learn");
        }
    }

    /** Columns standardised with the training rows' mean and n-normalised deviation, as make_probe.py does. */
    private static NDArray[] standardised(NDArray train, NDArray test) {
        NDArray x = train.toType(DataType.FLOAT64, false);
        NDArray mean = x.mean(new int[] {0});
        NDArray deviation = x.sub(mean).square().mean(new int[] {0}).sqrt();
        return new NDArray[] {x.sub(mean).div(deviation), test.toType(DataType.FLOAT64, false).sub(mean).div(deviation)};
    }

    @Test
    void defaultsConvergeOnStandardisedFloat64Rows() throws IOException {
        JsonNode ref = scalars().get("standardised");
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray[] rows = standardised(file.read("train.x", m), file.read("test.x", m));
            NDArray x = rows[0];
            long[] y = file.read("train.y", m).toLongArray();
            List<Integer> seen = new ArrayList<>();
            LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES, LogisticRegression.Config.defaults(), seen::add);
            assertThat(probe.converged()).isTrue();
            assertThat(seen).hasSize(probe.iterations());
            for (int i = 0; i < seen.size(); i++) {
                assertThat(seen.get(i)).isEqualTo(i + 1);
            }
            // the tolerance bounds the gradient of the objective divided by C (here C = 1)
            double[] gradient = new double[CLASSES * D + CLASSES];
            double objective = probe.loss(x, y, gradient);
            assertThat(Lbfgs.maxAbs(gradient)).isLessThanOrEqualTo(1e-6);
            assertThat(objective).isCloseTo(ref.get("objective").asDouble(), within(1e-6 * objective));
            assertThat(probe.accuracy(rows[1], file.read("test.y", m).toLongArray()))
                    .isCloseTo(ref.get("test_accuracy").asDouble(), within(0.01));
            assertThat(probe.accuracy(x, y)).isCloseTo(ref.get("train_accuracy").asDouble(), within(0.01));
            assertThat(x.getDataType()).isEqualTo(DataType.FLOAT64); // the caller's rows are left alone
        }
    }

    @Test
    void lossIsTheObjectiveAndItsGradientMatchesFiniteDifferences() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray x = file.read("train.x", m);
            long[] y = file.read("train.y", m).toLongArray();
            // at scikit-learn's own parameters, loss is the objective make_probe.py computed from them
            for (String name : List.of("c1", "c0.01")) {
                JsonNode ref = scalars().get(name);
                LogisticRegression sk = LogisticRegression.of(file.read(name + ".coef", m).toDoubleArray(),
                        file.read(name + ".intercept", m).toDoubleArray(), ref.get("c").asDouble());
                assertThat(sk.loss(x, y)).isCloseTo(ref.get("objective").asDouble(), within(1e-12 * ref.get("objective").asDouble()));
            }

            var rng = new SplittableRandom(3);
            double[] w = new double[CLASSES * D];
            double[] b = new double[CLASSES];
            for (int i = 0; i < w.length; i++) {
                w[i] = 0.1 * rng.nextGaussian();
            }
            for (int k = 0; k < CLASSES; k++) {
                b[k] = rng.nextGaussian();
            }
            double c = 0.3;
            double[] gradient = new double[w.length + b.length];
            double f = LogisticRegression.of(w, b, c).loss(x, y, gradient);
            assertThat(f).isEqualTo(LogisticRegression.of(w, b, c).loss(x, y));
            for (int j = 0; j < gradient.length; j += 7) { // every 7th coefficient, and every intercept
                double h = 1e-5;
                double[] wp = w.clone(), wm = w.clone(), bp = b.clone(), bm = b.clone();
                if (j < w.length) {
                    wp[j] += h;
                    wm[j] -= h;
                } else {
                    bp[j - w.length] += h;
                    bm[j - w.length] -= h;
                }
                double numeric = (LogisticRegression.of(wp, bp, c).loss(x, y) - LogisticRegression.of(wm, bm, c).loss(x, y)) / (2 * h);
                assertThat(gradient[j]).as("∂f/∂w[" + j + "]").isCloseTo(numeric, within(1e-6 * Math.max(1, Math.abs(numeric))));
            }
            for (int k = 0; k < CLASSES; k++) {
                int j = w.length + k;
                double[] bp = b.clone(), bm = b.clone();
                bp[k] += 1e-5;
                bm[k] -= 1e-5;
                double numeric = (LogisticRegression.of(w, bp, c).loss(x, y) - LogisticRegression.of(w, bm, c).loss(x, y)) / 2e-5;
                assertThat(gradient[j]).as("∂f/∂b[" + k + "]").isCloseTo(numeric, within(1e-6 * Math.max(1, Math.abs(numeric))));
            }
        }
    }

    @Test
    void predictionsProbabilitiesAndAccuracyAgree() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray x = file.read("train.x", m);
            long[] y = file.read("train.y", m).toLongArray();
            NDArray xTest = file.read("test.x", m);
            long[] yTest = file.read("test.y", m).toLongArray();
            LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES, new LogisticRegression.Config(0.05, 500, 1e-8));

            long[] predicted = probe.predict(xTest);
            NDArray p = probe.probabilities(xTest);
            assertThat(p.getShape()).isEqualTo(new Shape(400, CLASSES));
            assertThat(p.getDataType()).isEqualTo(DataType.FLOAT64);
            assertThat(p.getManager()).isSameAs(m);
            double[] probs = p.toDoubleArray();
            double[] coef = probe.coefficients();
            double[] bias = probe.intercepts();
            float[] rows = xTest.toFloatArray();
            long hits = 0;
            for (int i = 0; i < 400; i++) {
                double sum = 0;
                double[] logit = new double[CLASSES];
                int best = 0;
                for (int k = 0; k < CLASSES; k++) {
                    sum += probs[i * CLASSES + k];
                    if (probs[i * CLASSES + k] > probs[i * CLASSES + best]) {
                        best = k;
                    }
                    logit[k] = bias[k];
                    for (int j = 0; j < D; j++) {
                        logit[k] += coef[k * D + j] * rows[i * D + j];
                    }
                }
                assertThat(sum).isCloseTo(1.0, within(1e-12));
                assertThat(predicted[i]).isEqualTo(best);
                // softmax of the logits, computed here independently
                double max = java.util.Arrays.stream(logit).max().orElseThrow();
                double z = java.util.Arrays.stream(logit).map(l -> Math.exp(l - max)).sum();
                for (int k = 0; k < CLASSES; k++) {
                    assertThat(probs[i * CLASSES + k]).isCloseTo(Math.exp(logit[k] - max) / z, within(1e-12));
                }
                hits += predicted[i] == yTest[i] ? 1 : 0;
            }
            assertThat(probe.accuracy(xTest, yTest)).isEqualTo(hits / 400.0);
            assertThat(java.util.Arrays.stream(bias).sum()).isCloseTo(0.0, within(1e-12));
        }
    }

    @Test
    void aClassWithoutRowsIsNeverPredicted() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray[] rows = standardised(file.read("train.x", m), file.read("test.x", m));
            NDArray x = rows[0];
            long[] y = file.read("train.y", m).toLongArray();
            LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES + 1, LogisticRegression.Config.defaults());
            assertThat(probe.converged()).isTrue();
            assertThat(probe.predict(rows[1])).doesNotContain((long) CLASSES);
            double[] p = probe.probabilities(x).toDoubleArray();
            double total = 0;
            for (int i = 0; i < 800; i++) {
                total += p[i * (CLASSES + 1) + CLASSES];
            }
            assertThat(total).isLessThanOrEqualTo(1e-6); // the absent class's gradient is its total probability
            double[] w = probe.coefficients();
            for (int j = 0; j < D; j++) {
                // stationarity gives its weights as −C Σ_i p_i[absent] x_i: tiny once its probabilities vanish
                assertThat(w[CLASSES * D + j]).isCloseTo(0.0, within(1e-4));
            }
        }
    }

    @Test
    void theIterationLimitIsReportedAsNotConverged() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray x = file.read("train.x", m);
            long[] y = file.read("train.y", m).toLongArray();
            List<Integer> seen = new ArrayList<>();
            LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES, new LogisticRegression.Config(1.0, 3, 1e-6), seen::add);
            assertThat(probe.converged()).isFalse();
            assertThat(probe.iterations()).isEqualTo(3);
            assertThat(seen).containsExactly(1, 2, 3);
            // three steps already decrease the objective from its value at zero, n·log(C)
            assertThat(probe.loss(x, y)).isLessThan(800 * Math.log(CLASSES));
        }
    }

    @Test
    void nativeArrayCountStaysFlatAcrossIterationsAndFits() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); Safetensors file = Safetensors.open(resource("analysis/probe.safetensors"))) {
            NDArray x = file.read("train.x", m);
            long[] y = file.read("train.y", m).toLongArray();
            int before = liveArrays();
            List<Integer> during = new ArrayList<>();
            List<Integer> after = new ArrayList<>();
            for (int fit = 0; fit < 3; fit++) {
                LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES, new LogisticRegression.Config(1.0, 40, 1e-10),
                        iteration -> during.add(liveArrays()));
                probe.predict(x);
                probe.accuracy(x, y);
                probe.loss(x, y);
                after.add(liveArrays());
            }
            assertThat(during).hasSize(120).containsOnly(during.get(0)); // the fit's data only, no per-iteration arrays
            assertThat(during.get(0)).isGreaterThan(before);
            assertThat(after).containsOnly(before);
            // probabilities belong to the caller's manager: exactly one array more
            LogisticRegression probe = LogisticRegression.fit(x, y, CLASSES, new LogisticRegression.Config(1.0, 5, 1e-6));
            probe.probabilities(x);
            assertThat(liveArrays()).isEqualTo(before + 1);
        }
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> new LogisticRegression.Config(0, 10, 1e-6)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LogisticRegression.Config(Double.NaN, 10, 1e-6)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LogisticRegression.Config(1, 0, 1e-6)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LogisticRegression.Config(1, 10, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LogisticRegression.Config(1, 10, -1e-3)).isInstanceOf(IllegalArgumentException.class);
        var config = LogisticRegression.Config.defaults();
        assertThat(config).isEqualTo(new LogisticRegression.Config(1.0, 1000, 1e-6));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = OwnedArrays.of(m, new float[] {0, 1, 2, 3, 4, 5}, new Shape(3, 2));
            assertThatThrownBy(() -> LogisticRegression.fit(x, new long[] {0, 1, 2}, 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("label 2 of row 2 is outside [0, 2)");
            assertThatThrownBy(() -> LogisticRegression.fit(x, new long[] {0, -1, 1}, 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("label -1");
            assertThatThrownBy(() -> LogisticRegression.fit(x, new long[] {0, 1}, 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 rows but 2 labels");
            assertThatThrownBy(() -> LogisticRegression.fit(x, new long[] {0, 0, 0}, 1, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 2 classes");
            NDArray empty = m.zeros(new Shape(0, 2));
            assertThatThrownBy(() -> LogisticRegression.fit(empty, new long[0], 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one row");
            assertThatThrownBy(() -> LogisticRegression.fit(x.reshape(6), new long[6], 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected rows [n, d]");
            assertThatThrownBy(() -> LogisticRegression.fit(x.toType(DataType.INT64, false), new long[3], 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("floating-point");
            NDArray nan = OwnedArrays.of(m, new float[] {0, Float.NaN, 2, 3, 4, 5}, new Shape(3, 2));
            assertThatThrownBy(() -> LogisticRegression.fit(nan, new long[] {0, 1, 0}, 2, config))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not finite");

            LogisticRegression probe = LogisticRegression.fit(x, new long[] {0, 1, 1}, 2, config);
            NDArray wide = m.zeros(new Shape(3, 3));
            assertThatThrownBy(() -> probe.predict(wide)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected rows [n, 2]");
            assertThatThrownBy(() -> probe.probabilities(wide)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> probe.accuracy(x, new long[] {0, 1})).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> probe.loss(x, new long[] {0, 1, 5})).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
