package maetok4j.metrics;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.BundledDatasets;
import maetok4j.data.Dataset;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.TensorFileException;
import maetok4j.tokenizer.CheckpointException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class DomainClassifierTest {

    static {
        Engines.configure();
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static Dataset fashion;

    @BeforeAll
    static void open() {
        fashion = BundledDatasets.open("fashion-mnist-test");
    }

    /** The first {@code n} rows of a dataset: a real labelled sample that trains in seconds. */
    record Head(Dataset data, int n) implements Dataset {
        @Override
        public String name() {
            return data.name() + "[:" + n + "]";
        }

        @Override
        public int size() {
            return n;
        }

        @Override
        public List<String> classes() {
            return data.classes();
        }

        @Override
        public int label(int i) {
            return data.label(i);
        }

        @Override
        public BufferedImage image(int i) {
            return data.image(i);
        }
    }

    /** A small, fast network for tests: three blocks at 32 px, few large batches, 1 loader thread. */
    static DomainClassifierTraining.Options small(int epochs, long seed) {
        return new DomainClassifierTraining.Options(epochs, 64, 1e-2, 0.05, 32, List.of(16, 32, 64), 0.2, true, seed, 1);
    }

    static DomainClassifierTraining.Result train(int images, DomainClassifierTraining.Options options) {
        return DomainClassifierTraining.train(new Head(fashion, images), options, new DomainClassifierTraining.Listener() {});
    }

    /** Every native array alive in the process: base managers are children of the engine's system manager. */
    static int liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return ((BaseNDManager) probe.getParentManager()).getManagedArrays().size();
        }
    }

    static NDArray randomImages(NDManager m, int batch, int size, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] v = new float[batch * 3 * size * size];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextDouble(-1, 1);
        }
        return OwnedArrays.of(m, v, new Shape(batch, 3, size, size));
    }

    static Map<String, float[]> weights(DomainClassifier c) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : c.stateDict().entrySet()) {
            out.put(e.getKey(), e.getValue().array().toFloatArray());
        }
        return out;
    }

    @Test
    void shortTrainingLowersTheLossAndBeatsChanceOnHeldOutImages() {
        List<Double> losses = new ArrayList<>();
        List<Double> accuracies = new ArrayList<>();
        long[] total = new long[1];
        DomainClassifierTraining.Listener listener = new DomainClassifierTraining.Listener() {
            @Override
            public void begin(long totalSteps) {
                total[0] = totalSteps;
            }

            @Override
            public void step(long step, double loss, double imagesPerSecond) {
                losses.add(loss);
                assertThat(imagesPerSecond).isPositive();
            }

            @Override
            public void epoch(int epoch, double valAccuracy) {
                accuracies.add(valAccuracy);
            }
        };
        try (DomainClassifierTraining.Result r = DomainClassifierTraining.train(new Head(fashion, 1200), small(4, 0), listener)) {
            DomainClassifierTraining.Summary s = r.summary();
            assertThat(s.trainImages()).isEqualTo(960);
            assertThat(s.valImages()).isEqualTo(240);
            assertThat(s.steps()).isEqualTo(total[0]).isEqualTo(4 * (960 / 64)).isEqualTo(losses.size());
            assertThat(accuracies).hasSize(4).last().isEqualTo(s.valAccuracy());
            double first = losses.subList(0, 10).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double last = losses.subList(losses.size() - 10, losses.size()).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            assertThat(first).isGreaterThan(1.8); // about ln 10 at the start
            assertThat(last).isLessThan(0.6 * first); // about 0.4 × first
            assertThat(s.chanceAccuracy()).isLessThan(0.2);
            assertThat(s.valAccuracy()).isGreaterThan(0.5); // about 0.7 after these 60 steps
            assertThat(r.classifier().config().valAccuracy()).isEqualTo(s.valAccuracy());
            assertThat(r.classifier().isTraining()).isFalse();
            ObjectNode json = s.toJson();
            assertThat(json.path("val_accuracy").asDouble()).isEqualTo(s.valAccuracy());
            assertThat(json.path("steps").asLong()).isEqualTo(s.steps());
            assertThat(json.path("options").path("seed").asLong()).isZero();
        }
    }

    @Test
    void theSameSeedGivesTheSameWeightsAndAnotherSeedOthers() {
        Map<String, float[]> a;
        Map<String, float[]> b;
        Map<String, float[]> c;
        try (DomainClassifierTraining.Result r = train(320, small(1, 7))) {
            a = weights(r.classifier());
        }
        try (DomainClassifierTraining.Result r = train(320, small(1, 7))) {
            b = weights(r.classifier());
        }
        try (DomainClassifierTraining.Result r = train(320, small(1, 8))) {
            c = weights(r.classifier());
        }
        assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
        a.forEach((k, v) -> assertThat(b.get(k)).as(k).containsExactly(v));
        assertThat(c.get("features.0.conv.weight")).isNotEqualTo(a.get("features.0.conv.weight"));
        assertThat(c.get("head.weight")).isNotEqualTo(a.get("head.weight"));
    }

    @Test
    void saveThenLoadGivesIdenticalFeatures(@TempDir Path dir) throws Exception {
        Path folder = dir.resolve("classifier");
        try (DomainClassifierTraining.Result r = train(320, small(1, 0)); NDManager m = NDManager.newBaseManager()) {
            DomainClassifier trained = r.classifier();
            assertThat(trained.name()).contains("domain classifier", "fashion-mnist-test", "not saved").doesNotContain("FID");
            trained.save(folder);
            assertThat(trained.name()).contains(folder.toString());
            try (Stream<Path> files = Files.list(folder)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("config.json", "model.safetensors");
            }
            ObjectNode config = (ObjectNode) JSON.readTree(folder.resolve("config.json").toFile());
            assertThat(config.path("kind").asText()).isEqualTo("domain-classifier");
            assertThat(config.path("classes").asInt()).isEqualTo(10);
            assertThat(config.path("class_names").size()).isEqualTo(10);
            assertThat(config.path("val_accuracy").asDouble()).isEqualTo(r.summary().valAccuracy());

            NDArray images = randomImages(m, 6, 32, 1);
            FeatureNetwork.Activations before = trained.extract(images);
            try (DomainClassifier loaded = DomainClassifier.load(folder)) {
                assertThat(loaded.config()).isEqualTo(trained.config());
                assertThat(loaded.name()).contains("domain classifier", folder.toString());
                assertThat(loaded.isFidInception()).isFalse();
                FeatureNetwork.Activations after = loaded.extract(images);
                assertThat(after.features()).containsExactly(before.features());
                assertThat(after.logits()).containsExactly(before.logits());
            }
        }
    }

    @Test
    void featuresAreBatchByWidthAndLogitsBatchByClasses() {
        DomainClassifier.Config config = new DomainClassifier.Config("test", 32, List.of(8, 16, 24), List.of("a", "b", "c"), 3, null);
        try (DomainClassifier c = DomainClassifier.create(config); NDManager m = NDManager.newBaseManager()) {
            assertThat(c.featureDim()).isEqualTo(24);
            assertThat(c.classes()).isEqualTo(3);
            FeatureNetwork.Activations a = c.extract(randomImages(m, 5, 32, 0));
            assertThat(a.batch()).isEqualTo(5);
            assertThat(a.featureDim()).isEqualTo(24);
            assertThat(a.features()).hasSize(5 * 24);
            assertThat(a.classes()).isEqualTo(3);
            assertThat(a.logits()).hasSize(5 * 3);
            for (float f : a.features()) {
                assertThat(f).isFinite().isGreaterThanOrEqualTo(0f); // pooled ReLU outputs
            }
        }
    }

    @Test
    void imagesOfAnotherSizeAreResizedBilinearly() {
        DomainClassifier.Config config = new DomainClassifier.Config("test", 32, List.of(8, 16), List.of("a", "b"), 0, null);
        try (DomainClassifier c = DomainClassifier.create(config); NDManager m = NDManager.newBaseManager()) {
            NDArray small = randomImages(m, 3, 32, 5);
            // each pixel repeated 2×2: a half-pixel-centred bilinear halving averages the pairs back to the original
            NDArray doubled = small.repeat(2, 2).repeat(3, 2); // [3, 3, 64, 64]
            FeatureNetwork.Activations direct = c.extract(small);
            FeatureNetwork.Activations resized = c.extract(doubled);
            for (int i = 0; i < direct.features().length; i++) {
                assertThat(resized.features()[i]).isCloseTo(direct.features()[i], within(1e-5f));
            }
            FeatureNetwork.Activations odd = c.extract(randomImages(m, 2, 20, 6));
            assertThat(odd.batch()).isEqualTo(2);
            assertThat(odd.features()).hasSize(2 * 16);
            assertThatThrownBy(() -> c.extract(randomImages(m, 2, 32, 0).get(":, 0:1")))
                    .hasMessageContaining("expected images [B, 3, H, W]");
        }
    }

    @Test
    void theArrayCountSeesEveryManager() {
        int before = liveArrays();
        try (NDManager m = NDManager.newBaseManager(); NDManager sub = m.newSubManager()) {
            sub.zeros(new Shape(2));
            assertThat(liveArrays()).isEqualTo(before + 1);
        }
        assertThat(liveArrays()).isEqualTo(before);
    }

    @Test
    void nativeArrayCountStaysFlatOverTrainingStepsAndExtractCalls() {
        List<Integer> counts = new ArrayList<>();
        DomainClassifierTraining.Listener listener = new DomainClassifierTraining.Listener() {
            @Override
            public void step(long step, double loss, double imagesPerSecond) {
                if (step >= 2) { // the optimiser's moments appear in step 1
                    counts.add(liveArrays());
                }
            }
        };
        try (DomainClassifierTraining.Result r = DomainClassifierTraining.train(new Head(fashion, 640), small(3, 0), listener)) {
            assertThat(counts).hasSizeGreaterThan(20).containsOnly(counts.get(0));
            DomainClassifier c = r.classifier();
            int before = liveArrays();
            for (int i = 0; i < 30; i++) {
                try (NDManager m = NDManager.newBaseManager()) {
                    c.extract(randomImages(m, 4, 28, i));
                }
            }
            assertThat(liveArrays()).isEqualTo(before);
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray images = randomImages(m, 4, 32, 0);
                int held = liveArrays();
                for (int i = 0; i < 30; i++) {
                    c.extract(images);
                }
                assertThat(liveArrays()).isEqualTo(held); // nothing left in the caller's manager either
            }
        }
    }

    @Test
    void extractUsesRunningStatisticsEvenInTrainingMode() {
        DomainClassifier.Config config = new DomainClassifier.Config("test", 32, List.of(8, 16), List.of("a", "b"), 0, null);
        try (DomainClassifier c = DomainClassifier.create(config); NDManager m = NDManager.newBaseManager()) {
            NDArray images = randomImages(m, 4, 32, 2);
            float[] eval = c.extract(images).features();
            c.train(true);
            assertThat(c.extract(images).features()).containsExactly(eval);
            assertThat(c.isTraining()).isTrue();
            assertThat(c.stateDict().get("features.0.norm.num_batches_tracked").array().getFloat()).isZero();
        }
    }

    @Test
    void crossEntropyIsTheMeanNegativeLogLikelihood() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = OwnedArrays.of(m, new float[] {0, 0, 0, (float) Math.log(3)}, new Shape(2, 2));
            float loss = DomainClassifierTraining.crossEntropy(logits, new long[] {0, 1}, 2, m).getFloat();
            assertThat((double) loss).isCloseTo((Math.log(2) + Math.log(4.0 / 3)) / 2, within(1e-6));
        }
    }

    // ---- checkpoint validation --------------------------------------------------------------------------

    /** Saves an untrained classifier, lets {@code edit} change its config.json, and returns the folder. */
    static Path folderWith(Path dir, Consumer<ObjectNode> edit) throws Exception {
        DomainClassifier.Config config = new DomainClassifier.Config("test", 32, List.of(8, 16), List.of("a", "b"), 0, 0.5);
        try (DomainClassifier c = DomainClassifier.create(config)) {
            c.save(dir);
        }
        Path file = dir.resolve("config.json");
        ObjectNode json = (ObjectNode) JSON.readTree(file.toFile());
        edit.accept(json);
        Files.writeString(file, JSON.writeValueAsString(json));
        return dir;
    }

    @Test
    void configErrorsNameTheFileAndTheField(@TempDir Path dir) throws Exception {
        Map<String, Consumer<ObjectNode>> cases = new LinkedHashMap<>();
        cases.put("unknown field 'colour'", j -> j.put("colour", "red"));
        cases.put("field 'kind' must be 'domain-classifier'", j -> j.put("kind", "inception"));
        cases.put("field 'image_size' must be an integer", j -> j.put("image_size", "big"));
        cases.put("field 'image_size' must be in [8, 1024]", j -> j.put("image_size", 4));
        cases.put("field 'widths' must be a list of integers", j -> j.put("widths", 8));
        cases.put("field 'widths' must list at least one", j -> j.putArray("widths"));
        cases.put("field 'class_names' has 2 names but 'classes' is 3", j -> j.put("classes", 3));
        cases.put("field 'val_accuracy' must be in [0, 1]", j -> j.put("val_accuracy", 1.5));
        cases.put("field 'seed' must be an integer", j -> j.remove("seed"));
        cases.put("field 'dataset' must be a string", j -> j.remove("dataset"));
        int i = 0;
        for (Map.Entry<String, Consumer<ObjectNode>> c : cases.entrySet()) {
            Path folder = folderWith(dir.resolve("case" + i++), c.getValue());
            assertThatThrownBy(() -> DomainClassifier.load(folder)).isInstanceOf(CheckpointException.class)
                    .hasMessageStartingWith(folder.resolve("config.json") + ": ")
                    .hasMessageContaining(c.getKey())
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
    }

    @Test
    void missingOrMismatchedFilesAreOneLineErrors(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> DomainClassifier.load(dir.resolve("nowhere")))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("not a domain-classifier folder");

        Path broken = folderWith(dir.resolve("broken"), j -> {});
        Files.writeString(broken.resolve("config.json"), "{\"kind\": ");
        assertThatThrownBy(() -> DomainClassifier.load(broken))
                .hasMessageStartingWith(broken.resolve("config.json") + ": not valid JSON");

        Path noWeights = folderWith(dir.resolve("no-weights"), j -> {});
        Files.delete(noWeights.resolve("model.safetensors"));
        assertThatThrownBy(() -> DomainClassifier.load(noWeights))
                .hasMessage(noWeights.resolve("model.safetensors") + ": no such file");

        Path wider = folderWith(dir.resolve("wider"), j -> j.putArray("widths").add(8).add(32));
        assertThatThrownBy(() -> DomainClassifier.load(wider)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(wider.resolve("model.safetensors").toString())
                .hasMessageContaining("features.1.conv.weight");
    }

    @Test
    void optionsAreValidatedAndTheAutomaticChoicesFollowTheData() {
        DomainClassifierTraining.Options d = DomainClassifierTraining.Options.defaults();
        assertThatThrownBy(() -> d.withEpochs(-1)).hasMessageContaining("epochs");
        assertThatThrownBy(() -> d.withBatchSize(1)).hasMessageContaining("batch size");
        assertThatThrownBy(() -> d.withImageSize(4)).hasMessageContaining("image size");
        assertThatThrownBy(() -> new DomainClassifierTraining.Options(1, 8, 1e-3, 0, 0, List.of(8), 1.0, false, 0, 1))
                .hasMessageContaining("validation fraction");
        assertThatThrownBy(() -> new DomainClassifierTraining.Options(1, 8, 0, 0, 0, List.of(8), 0.1, false, 0, 1))
                .hasMessageContaining("learning rate");
        assertThat(DomainClassifierTraining.defaultImageSize(fashion)).isEqualTo(32); // 28 px, upsampled
        assertThat(DomainClassifierTraining.defaultImageSize(BundledDatasets.open("emoji-noto-64"))).isEqualTo(64);
        assertThat(DomainClassifierTraining.epochsFor(9000)).isEqualTo(4);
        assertThat(DomainClassifierTraining.epochsFor(1715)).isEqualTo(23);
        assertThat(DomainClassifierTraining.epochsFor(1_000_000)).isEqualTo(1);
    }

    @Test
    void unlabelledOrTooSmallDataIsRefused() {
        Dataset noClasses = new Dataset() {
            @Override
            public String name() {
                return "plain";
            }

            @Override
            public int size() {
                return 100;
            }

            @Override
            public List<String> classes() {
                return List.of();
            }

            @Override
            public int label(int i) {
                return -1;
            }

            @Override
            public BufferedImage image(int i) {
                return fashion.image(i);
            }
        };
        assertThatThrownBy(() -> DomainClassifierTraining.train(noClasses, small(1, 0), new DomainClassifierTraining.Listener() {}))
                .hasMessageContaining("dataset plain has 0 labelled classes");
        assertThatThrownBy(() -> train(30, small(1, 0))).hasMessageContaining("has 30 images: too few");
    }
}
