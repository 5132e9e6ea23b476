package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import maetok4j.data.LatentStore;
import maetok4j.latents.LatentCache;
import maetok4j.latents.LatentNormalization;
import maetok4j.latents.LatentSet;
import maetok4j.latents.LatentStatistics;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import maetok4j.training.MetricsLog;
import maetok4j.training.TokenizerTrainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The diffusion trainer end to end on a tiny SiT and a tiny latent store with class structure. */
class DiffusionTrainerTest {

    static {
        Engines.configure();
    }

    static final String TINY = String.join("\n",
            "hidden_size: 32",
            "depth: 1",
            "num_heads: 2",
            "global_batch_size: 16",
            "lr: 2.0e-3",
            "lr_warmup_steps: 2",
            "ema_decay: 0.9",
            "max_steps: 12",
            "log_every: 1",
            "eval_every: 4",
            "plot_every: 6",
            "ckpt_every: 5",
            "val_latents: 16",
            "val_repeats: 2",
            "");

    private static final TokenizerTrainer.Listener QUIET = new TokenizerTrainer.Listener() {};

    static DiffusionTrainConfig tiny(Path latents, String... overrides) throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectNode root = (ObjectNode) yaml.readTree(TINY);
        for (String o : overrides) {
            root.setAll((ObjectNode) yaml.readTree(o));
        }
        return DiffusionTrainConfig.parse(root, null).withLatents(latents);
    }

    /**
     * A latent store as {@code maetok cache-latents --flip} writes it: [n, 4, 2] token latents (channels last) in image and
     * mirror pairs, three classes whose latents sit around different means, {@code stats.json} and a {@code cache.json}
     * naming the tokenizer.
     */
    static Path tinyStore(Path dir, int n, long seed) {
        int tokens = 4;
        int channels = 2;
        float[] z = new float[n * tokens * channels];
        long[] labels = new long[n];
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            labels[i] = (i / 2) % 3;
            for (int k = 0; k < tokens * channels; k++) {
                // class c: token k's value near 2·(c − 1)·(−1)^k, scaled per channel so that the per-channel statistics differ
                double mean = 2.0 * (labels[i] - 1) * (k % 2 == 0 ? 1 : -1);
                z[i * tokens * channels + k] = (float) ((mean + 0.3 * rng.nextGaussian()) * (1 + k % channels) + 0.5);
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray latents = OwnedArrays.of(m, z, new Shape(n, tokens, channels));
            LatentStore.Writer w = new LatentStore.Writer(dir, new long[] {tokens, channels}, true);
            w.append(latents, OwnedArrays.of(m, labels));
            LatentStatistics stats = new LatentStatistics(new long[] {tokens, channels}, 1);
            stats.add(latents);
            Files.writeString(dir.resolve(LatentCache.STATS), stats.summary().toJson(new ObjectMapper().createObjectNode()).toPrettyString());
            Files.writeString(dir.resolve(LatentCache.MANIFEST), "{\"model\": \"runs/tok/tokenizer\", \"flip\": true}\n");
            w.finish(Map.of("flip", "true", "channel_axis", "1", "classes", "[\"a\", \"b\", \"c\"]"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return dir;
    }

    @Test
    void theSameSeedGivesTheSameRunAndAResumedRunReachesTheSameWeights(@TempDir Path dir) throws Exception {
        Path store = tinyStore(dir.resolve("z"), 96, 1);
        DiffusionTrainConfig c = tiny(store);
        Map<String, float[]> full;
        try (DiffusionTrainer t = new DiffusionTrainer(c, dir.resolve("a"), false, QUIET)) {
            t.run();
            full = weights(t.model());
        }
        try (DiffusionTrainer t = new DiffusionTrainer(c, dir.resolve("b"), false, QUIET)) {
            t.run();
            assertSameWeights(weights(t.model()), full, "a second run of the same config");
        }
        try (DiffusionTrainer t = new DiffusionTrainer(c, dir.resolve("split"), false, QUIET)) {
            t.run(7); // stopped between checkpoints (5, 10) and evaluations (4, 8)
            assertThat(Files.exists(dir.resolve("split/model"))).isFalse();
        }
        try (DiffusionTrainer t = new DiffusionTrainer(c, dir.resolve("split"), true, QUIET)) {
            assertThat(t.step()).isEqualTo(7);
            t.run();
            assertSameWeights(weights(t.model()), full, "stopped at 7 and resumed");
        }
        List<Map<String, Double>> a = MetricsLog.read(dir.resolve("a/metrics.jsonl"));
        List<Map<String, Double>> b = MetricsLog.read(dir.resolve("b/metrics.jsonl"));
        List<Map<String, Double>> split = MetricsLog.read(dir.resolve("split/metrics.jsonl"));
        assertThat(a).hasSize(12);
        assertThat(split).hasSameSizeAs(a);
        for (int i = 0; i < a.size(); i++) {
            for (String k : a.get(i).keySet()) {
                if (k.equals("samples_per_s") || k.equals("rss_mb") || k.equals("heap_mb")) {
                    continue;
                }
                assertThat(b.get(i).get(k)).as("second run, step %d, %s", i + 1, k).isEqualTo(a.get(i).get(k));
                assertThat(split.get(i).get(k)).as("resumed run, step %d, %s", i + 1, k).isEqualTo(a.get(i).get(k));
            }
        }
        assertThat(a.get(3)).containsKeys("loss", "grad_norm", "lr", "samples_per_s", "val_loss", "val_loss_ema", "val_loss_null");
        assertThat(a.get(2)).doesNotContainKey("val_loss");
        assertThat(a.get(0).get("lr")).isCloseTo(2e-3 / 3, within(1e-12));
        // the exported EMA weights are the checkpoint's EMA, and differ from the trained weights
        try (NDManager m = NDManager.newBaseManager(); SiT exported = SiT.load(dir.resolve("a/model"), m);
                Safetensors ema = Safetensors.open(dir.resolve("a/checkpoints/step-00000012/ema.safetensors"))) {
            float[] w = exported.stateDict().get("final_layer.linear.weight").array().toFloatArray();
            assertThat(w).containsExactly(ema.read("final_layer.linear.weight", m).toFloatArray());
            assertThat(w).isNotEqualTo(full.get("final_layer.linear.weight"));
        }
    }

    @Test
    void theExportedModelLoadsWithItsLatentSpace(@TempDir Path dir) throws Exception {
        Path store = tinyStore(dir.resolve("z"), 96, 1);
        Path run = dir.resolve("run");
        DiffusionTrainer.Summary s;
        try (DiffusionTrainer t = new DiffusionTrainer(tiny(store, "max_steps: 3"), run, false, QUIET)) {
            s = t.run();
        }
        assertThat(s.model()).isEqualTo(run.resolve("model"));
        assertThat(s.steps()).isEqualTo(3);
        assertThat(s.loss()).isPositive();
        assertThat(s.valLoss()).isPositive();
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.load(s.model(), m)) {
            SiTConfig c = sit.config();
            assertThat(c.vae1d()).isTrue();
            assertThat(c.inputSize()).isEqualTo(4);
            assertThat(c.inChannels()).isEqualTo(2);
            assertThat(c.numClasses()).isEqualTo(3);
            assertThat(c.labelRows()).isEqualTo(4); // and the null label
            assertThat(c.hiddenSize()).isEqualTo(32);
        }
        DiffusionCheckpoint.Latents latents = DiffusionCheckpoint.readLatents(s.model());
        LatentStatistics.Summary stats = LatentCache.statsOf(store);
        assertThat(latents.normalization()).isEqualTo(LatentNormalization.of(stats, 1, false)); // auto: scalar for tokens
        assertThat(latents.classes()).containsExactly("a", "b", "c");
        assertThat(latents.tokenizer()).isEqualTo("runs/tok/tokenizer");
        assertThat(Files.readString(run.resolve("config.yaml"))).contains("latent_norm: \"scalar\"").contains("latents: \"" + store.toAbsolutePath());
        assertThat(DiffusionTrainConfig.load(run.resolve("config.yaml")).objective().latentNorm()).isEqualTo(DiffusionTrainConfig.LatentNorm.SCALAR);
        assertThat(run.resolve("plots/loss.png")).exists();
        ObjectNode summary = (ObjectNode) new ObjectMapper().readTree(run.resolve("summary.json").toFile());
        assertThat(summary.get("steps").asLong()).isEqualTo(3);
        assertThat(summary.get("model").asText()).isEqualTo(run.resolve("model").toString());
        assertThat(summary.get("samples_per_second").asDouble()).isPositive();

        // per-channel scaling on request, from the store's per-channel statistics
        try (DiffusionTrainer t = new DiffusionTrainer(tiny(store, "max_steps: 1", "latent_norm: channel"), dir.resolve("ch"), false, QUIET)) {
            t.run();
        }
        LatentNormalization perChannel = DiffusionCheckpoint.readLatents(dir.resolve("ch/model")).normalization();
        assertThat(perChannel.perChannel()).isTrue();
        assertThat(perChannel.mean()).containsExactly(stats.channelMean());
        assertThat(perChannel.std()).containsExactly(stats.channelStd());
    }

    @Test
    void nativeArrayCountStaysFlatAcrossSteps(@TempDir Path dir) throws Exception {
        Path store = tinyStore(dir.resolve("z"), 96, 1);
        List<Integer> counts = new ArrayList<>();
        DiffusionTrainer[] holder = new DiffusionTrainer[1];
        TokenizerTrainer.Listener probe = new TokenizerTrainer.Listener() {
            @Override
            public void step(long step, double loss, double samplesPerSecond) {
                if (step > 1) { // after the optimiser made its moments
                    counts.add(holder[0].nativeArrays());
                }
            }
        };
        try (DiffusionTrainer t = new DiffusionTrainer(tiny(store, "max_steps: 40", "log_every: 3", "eval_every: 10", "ckpt_every: 15"),
                dir.resolve("run"), false, probe)) {
            holder[0] = t;
            t.run();
        }
        assertThat(counts).hasSize(39).containsOnly(counts.get(0));
    }

    /** Classes whose latents differ: with labels the model predicts the velocity better than with the null label. */
    @Test
    void theModelLearnsWhatTheLabelsSay(@TempDir Path dir) throws Exception {
        Path store = tinyStore(dir.resolve("z"), 192, 2);
        Path run = dir.resolve("run");
        try (DiffusionTrainer t = new DiffusionTrainer(tiny(store, "max_steps: 150", "log_every: 10", "eval_every: 150", "val_latents: 48",
                "val_repeats: 4", "hidden_size: 64", "num_heads: 4", "depth: 2", "ema_decay: 0.95"), run, false, QUIET)) {
            t.run();
        }
        List<Map<String, Double>> rows = MetricsLog.read(run.resolve("metrics.jsonl"));
        Map<String, Double> last = rows.get(rows.size() - 1);
        assertThat(rows.get(rows.size() - 1).get("loss")).isLessThan(0.6 * rows.get(0).get("loss"));
        assertThat(last.get("val_loss")).isLessThan(0.9 * last.get("val_loss_null"));
        assertThat(last.get("val_loss_ema")).isLessThan(0.9 * last.get("val_loss_null"));
    }

    @Test
    void badRunsFailWithOneClearMessage(@TempDir Path dir) throws Exception {
        Path store = tinyStore(dir.resolve("z"), 96, 1);
        Path run = dir.resolve("run");
        try (DiffusionTrainer t = new DiffusionTrainer(tiny(store, "max_steps: 2"), run, false, QUIET)) {
            t.run(1);
        }
        assertThatThrownBy(() -> new DiffusionTrainer(tiny(store, "max_steps: 2"), run, false, QUIET))
                .hasMessageContaining("already holds checkpoints").hasMessageContaining("--resume");
        assertThatThrownBy(() -> new DiffusionTrainer(tiny(store, "max_steps: 2", "lr: 1.0e-2"), run, true, QUIET))
                .hasMessage("cannot resume " + run + " with a different config: lr changed (only ckpt_every, eval_every, keep_last, log_every,"
                        + " max_steps, plot_every may)");
        try (DiffusionTrainer t = new DiffusionTrainer(tiny(store, "max_steps: 3", "eval_every: 1"), run, true, QUIET)) {
            assertThat(t.step()).isEqualTo(1);
            assertThat(t.run().steps()).isEqualTo(3);
        }
        assertThatThrownBy(() -> new DiffusionTrainer(tiny(dir.resolve("nothing")), dir.resolve("r2"), false, QUIET))
                .hasMessageContaining("nothing: no such latent store or tensor file");
        assertThatThrownBy(() -> new DiffusionTrainer(tiny(store, "global_batch_size: 100"), dir.resolve("r3"), false, QUIET))
                .hasMessageContaining("global_batch_size 100 is larger than the 80 training latents");
        assertThatThrownBy(() -> new DiffusionTrainer(tiny(store, "val_latents: 96"), dir.resolve("r4"), false, QUIET))
                .hasMessageContaining("val_latents (96) must be smaller than the 96 latents");
        assertThatThrownBy(() -> new DiffusionTrainer(tiny(null), dir.resolve("r5"), false, QUIET)).hasMessageContaining("--latents");
    }

    @Test
    void theGeometryComesFromTheLatentShapeAndChannelAxis(@TempDir Path dir) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path tokens = latentsFile(dir.resolve("tokens.safetensors"), m, 6, 16, 8);
            Path grid = latentsFile(dir.resolve("grid.safetensors"), m, 6, 4, 8, 8);
            Path oblong = latentsFile(dir.resolve("oblong.safetensors"), m, 6, 4, 8, 6);
            try (LatentSet t = LatentSet.load(tokens, m); LatentSet g = LatentSet.load(grid, m); LatentSet o = LatentSet.load(oblong, m)) {
                DiffusionTrainer.Geometry gt = DiffusionTrainer.Geometry.of(t, 2);
                assertThat(gt).isEqualTo(new DiffusionTrainer.Geometry(true, 16, 8));
                assertThat(gt.decide(DiffusionTrainConfig.LatentNorm.AUTO)).isEqualTo(DiffusionTrainConfig.LatentNorm.SCALAR);
                DiffusionTrainer.Geometry gg = DiffusionTrainer.Geometry.of(g, 2);
                assertThat(gg).isEqualTo(new DiffusionTrainer.Geometry(false, 8, 4));
                assertThat(gg.decide(DiffusionTrainConfig.LatentNorm.AUTO)).isEqualTo(DiffusionTrainConfig.LatentNorm.CHANNEL);
                assertThat(gg.decide(DiffusionTrainConfig.LatentNorm.NONE)).isEqualTo(DiffusionTrainConfig.LatentNorm.NONE);
                assertThatThrownBy(() -> DiffusionTrainer.Geometry.of(g, 3)).hasMessageContaining("not a multiple of patch_size 3");
                assertThatThrownBy(() -> DiffusionTrainer.Geometry.of(o, 2)).hasMessageContaining("must be square");
            }
        }
    }

    private static Path latentsFile(Path file, NDManager m, long... shape) {
        Safetensors.write(file, Map.of("latents", m.zeros(new Shape(shape))), Map.of());
        return file;
    }

    private static void assertSameWeights(Map<String, float[]> actual, Map<String, float[]> expected, String what) {
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        for (String k : expected.keySet()) {
            assertThat(actual.get(k)).as("%s: %s", what, k).containsExactly(expected.get(k));
        }
    }

    private static Map<String, float[]> weights(SiT model) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : model.stateDict().entrySet()) {
            out.put(e.getKey(), e.getValue().array().toFloatArray());
        }
        return out;
    }
}
