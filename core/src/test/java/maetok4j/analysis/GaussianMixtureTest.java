package maetok4j.analysis;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.analysis.GaussianMixture.Config;
import maetok4j.analysis.GaussianMixture.Covariance;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class GaussianMixtureTest {

    static {
        Engines.configure();
    }

    private static NDManager manager;
    private static JsonNode expected;
    private static NDArray separatedTrain;
    private static NDArray separatedTest;
    private static NDArray overlappingTrain;
    private static NDArray overlappingTest;

    @BeforeAll
    static void load() throws IOException {
        manager = NDManager.newBaseManager();
        expected = new ObjectMapper().readTree(resource("analysis/gmm.json").toFile());
        try (Safetensors ref = Safetensors.open(resource("analysis/gmm.safetensors"))) {
            separatedTrain = ref.read("separated.train", manager);
            separatedTest = ref.read("separated.test", manager);
            overlappingTrain = ref.read("overlapping.train", manager);
            overlappingTest = ref.read("overlapping.test", manager);
        }
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static NDArray train(String set) {
        return set.equals("separated") ? separatedTrain : overlappingTrain;
    }

    private static NDArray test(String set) {
        return set.equals("separated") ? separatedTest : overlappingTest;
    }

    /** Every native array alive in the process: base managers are children of the engine's system manager. */
    static int liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return ((BaseNDManager) probe.getParentManager()).getManagedArrays().size();
        }
    }

    @ParameterizedTest(name = "{0} {1} K={2}")
    @CsvSource({
        "separated, diag, 3", "separated, diag, 6", "separated, diag, 10",
        "separated, full, 3", "separated, full, 6", "separated, full, 10",
        "overlapping, diag, 3", "overlapping, diag, 6", "overlapping, diag, 10",
        "overlapping, full, 3", "overlapping, full, 6", "overlapping, full, 10",
    })
    void heldOutLikelihoodMatchesScikitLearn(String set, String covariance, int k) {
        JsonNode ref = expected.get(set + "." + covariance + "." + k);
        // scikit-learn's reference keeps the best of 8 restarts; so does this fit
        Config config = Config.defaults(k, Covariance.parse(covariance)).withRestarts(8);
        GaussianMixture gm = GaussianMixture.fit(train(set), config);

        double nll = -gm.score(test(set));
        double refNll = -ref.get("score").asDouble();
        assertThat(nll).as("held-out NLL").isCloseTo(refNll, within(0.005 * Math.abs(refNll)));
        assertThat(gm.parameterCount()).isEqualTo(ref.get("n_parameters").asLong());
        double refBic = ref.get("bic").asDouble();
        assertThat(gm.bic(test(set))).as("BIC").isCloseTo(refBic, within(0.005 * Math.abs(refBic)));
        assertThat(gm.bic(test(set))).isEqualTo(-2 * gm.score(test(set)) * 500 + gm.parameterCount() * Math.log(500));
        // the lower bound is the train log-likelihood before the last M-step, which barely moves it
        assertThat(gm.lowerBound()).isCloseTo(gm.score(train(set)), within(0.01));

        assertThat(gm.components()).isEqualTo(k);
        assertThat(gm.dimension()).isEqualTo(6);
        assertThat(gm.covariance()).isEqualTo(Covariance.parse(covariance));
        assertThat(gm.converged()).isTrue();
        assertThat(gm.iterations()).isBetween(1, 100);
        assertThat(Arrays.stream(gm.weights()).sum()).isCloseTo(1.0, within(1e-12));
        assertThat(gm.means()).hasSize(k * 6);
        assertThat(gm.precisionsCholesky()).hasSize(covariance.equals("full") ? k * 36 : k * 6);
    }

    @Test
    void sameSeedGivesTheSameModelAndSeedsMatter() {
        Config config = new Config(10, Covariance.FULL, 2, 1e-3, 100, 1e-6, 7);
        GaussianMixture a = GaussianMixture.fit(overlappingTrain, config);
        GaussianMixture b = GaussianMixture.fit(overlappingTrain, config);
        assertThat(b.means()).containsExactly(a.means());
        assertThat(b.weights()).containsExactly(a.weights());
        assertThat(b.precisionsCholesky()).containsExactly(a.precisionsCholesky());
        assertThat(b.lowerBound()).isEqualTo(a.lowerBound());
        assertThat(b.iterations()).isEqualTo(a.iterations());

        List<Double> bounds = new ArrayList<>();
        for (long seed = 0; seed < 4; seed++) {
            bounds.add(GaussianMixture.fit(overlappingTrain, config.withRestarts(1).withSeed(seed)).lowerBound());
        }
        // ten overlapping components have several local optima: the seed picks the start
        assertThat(bounds.stream().distinct().count()).isGreaterThan(1);
    }

    @ParameterizedTest
    @CsvSource({"diag", "full"})
    void lowerBoundNeverDecreases(String covariance) {
        Config config = Config.defaults(10, Covariance.parse(covariance)).withTolerance(1e-12).withMaxIterations(300);
        AtomicInteger reported = new AtomicInteger();
        GaussianMixture gm = GaussianMixture.fit(overlappingTrain, config, i -> assertThat(i).isEqualTo(reported.incrementAndGet()));
        double[] bounds = gm.lowerBounds();
        assertThat(bounds).hasSize(gm.iterations());
        assertThat(reported.get()).isEqualTo(gm.iterations());
        assertThat(bounds.length).as("enough iterations to see the climb").isGreaterThan(10);
        for (int i = 1; i < bounds.length; i++) {
            assertThat(bounds[i]).as("bound " + i).isGreaterThanOrEqualTo(bounds[i - 1] - 1e-12);
        }
        assertThat(bounds[bounds.length - 1]).isGreaterThan(bounds[0] + 1e-3);
        assertThat(gm.lowerBound()).isEqualTo(bounds[bounds.length - 1]);
    }

    @Test
    void nativeArrayCountStaysFlatAcrossFits() {
        int before = liveArrays();
        List<Integer> counts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            for (Covariance c : Covariance.values()) {
                GaussianMixture gm = GaussianMixture.fit(overlappingTrain, Config.defaults(6, c).withRestarts(2).withSeed(i));
                gm.score(overlappingTest);
                gm.bic(overlappingTest);
            }
            counts.add(liveArrays());
        }
        assertThat(counts).containsOnly(before);
        // the inputs are untouched: still in their manager, still float32
        assertThat(overlappingTrain.getManager()).isSameAs(manager);
        assertThat(overlappingTrain.getDataType()).isEqualTo(DataType.FLOAT32);
    }

    @Test
    void duplicatedRowsAndEmptyComponentsStayFinite() {
        // four distinct rows, each repeated: six components cannot all own distinct points
        double[] v = new double[40 * 3];
        SplittableRandom rng = new SplittableRandom(1);
        double[][] points = {{0, 0, 0}, {5, 1, 0}, {0, 5, 2}, {3, 3, 3}};
        for (int i = 0; i < 40; i++) {
            System.arraycopy(points[rng.nextInt(4)], 0, v, i * 3, 3);
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = OwnedArrays.of(m, v, new Shape(40, 3));
            for (Covariance c : Covariance.values()) {
                GaussianMixture gm = GaussianMixture.fit(x, Config.defaults(6, c));
                assertThat(gm.score(x)).as(c.toString()).isFinite();
                assertThat(Arrays.stream(gm.weights()).allMatch(Double::isFinite)).isTrue();
                assertThat(Arrays.stream(gm.means()).allMatch(Double::isFinite)).isTrue();
                assertThat(Arrays.stream(gm.weights()).sum()).isCloseTo(1.0, within(1e-12));
            }
        }
    }

    @Test
    void parameterCountFollowsScikitLearn() {
        assertThat(GaussianMixture.parameterCount(Covariance.DIAG, 100, 256)).isEqualTo(100 * 256 * 2 + 99);
        assertThat(GaussianMixture.parameterCount(Covariance.FULL, 100, 256)).isEqualTo(100 * 256 * 257 / 2 + 100 * 256 + 99);
        assertThat(GaussianMixture.parameterCount(Covariance.FULL, 1, 1)).isEqualTo(2);
    }

    @Test
    void kMeansSeparatesDistantBlobs() {
        assertThat(KMeans.searchLeft(new double[] {1, 2, 2, 3}, 2)).isEqualTo(1);
        assertThat(KMeans.searchLeft(new double[] {1, 2, 2, 3}, 2.5)).isEqualTo(3);
        assertThat(KMeans.searchLeft(new double[] {1, 2, 2, 3}, 9)).isEqualTo(4);
        try (NDManager m = NDManager.newBaseManager()) {
            double[] v = new double[300 * 2];
            SplittableRandom rng = new SplittableRandom(2);
            for (int i = 0; i < 300; i++) {
                v[2 * i] = (i % 3) * 100 + rng.nextGaussian();
                v[2 * i + 1] = rng.nextGaussian();
            }
            KMeans.Result r = KMeans.fit(OwnedArrays.of(m, v, new Shape(300, 2)), 3, new SplittableRandom(3));
            for (int i = 3; i < 300; i++) {
                assertThat(r.labels()[i]).isEqualTo(r.labels()[i % 3]);
            }
            assertThat(Arrays.stream(r.labels()).distinct().count()).isEqualTo(3);
            assertThat(r.strictlyConverged()).isTrue();
        }
    }

    @Test
    void rejectsBadInputs() {
        assertThat(Covariance.parse("FULL")).isEqualTo(Covariance.FULL);
        assertThatThrownBy(() -> Covariance.parse("tied"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"diag\" or \"full\"").hasMessageContaining("tied");
        assertThatThrownBy(() -> Covariance.parse(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Config(0, Covariance.DIAG, 1, 1e-3, 100, 1e-6, 0)).hasMessageContaining("components");
        assertThatThrownBy(() -> new Config(2, Covariance.DIAG, 0, 1e-3, 100, 1e-6, 0)).hasMessageContaining("restarts");
        assertThatThrownBy(() -> new Config(2, Covariance.DIAG, 1, 0, 100, 1e-6, 0)).hasMessageContaining("tolerance");
        assertThatThrownBy(() -> new Config(2, Covariance.DIAG, 1, 1e-3, 0, 1e-6, 0)).hasMessageContaining("maxIterations");
        assertThatThrownBy(() -> new Config(2, Covariance.DIAG, 1, 1e-3, 100, -1, 0)).hasMessageContaining("regCovar");
        assertThat(Config.defaults(4, Covariance.FULL)).isEqualTo(new Config(4, Covariance.FULL, 1, 1e-3, 100, 1e-6, 0));

        try (NDManager m = NDManager.newBaseManager()) {
            NDArray few = m.zeros(new Shape(7, 3));
            assertThatThrownBy(() -> GaussianMixture.fit(few, Config.defaults(8, Covariance.DIAG)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("n = 7").hasMessageContaining("components = 8");
            assertThatThrownBy(() -> GaussianMixture.fit(m.zeros(new Shape(10)), Config.defaults(2, Covariance.DIAG)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[n, d]");
            NDArray nan = OwnedArrays.of(m, new double[] {0, 1, Double.NaN, 3, 4, 5}, new Shape(3, 2));
            assertThatThrownBy(() -> GaussianMixture.fit(nan, Config.defaults(2, Covariance.FULL)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
            GaussianMixture gm = GaussianMixture.fit(separatedTrain, Config.defaults(2, Covariance.DIAG));
            assertThatThrownBy(() -> gm.score(m.zeros(new Shape(4, 5))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("6");
        }
    }
}
