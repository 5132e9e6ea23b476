package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** cache-latents and every analyze command, end to end on the fixture tokenizer and a small labelled image file. */
class AnalyzeCommandTest {

    static final Path MODEL = CliRun.fixture("maetok-rope-mixed");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path images;
    static Path store;

    /** 60 pictures 32x32 in 3 classes: a red, green or blue field with noise, so a linear probe can tell them apart. */
    @BeforeAll
    static void cache() throws Exception {
        images = dir.resolve("images.safetensors");
        int n = 60;
        float[] x = new float[n * 3 * 32 * 32];
        long[] labels = new long[n];
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < n; i++) {
            labels[i] = i % 3;
            for (int c = 0; c < 3; c++) {
                for (int p = 0; p < 32 * 32; p++) {
                    x[((i * 3) + c) * 1024 + p] = (float) ((c == labels[i] ? 0.6 : -0.6) + 0.3 * rng.nextGaussian());
                }
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < x.length; i++) {
                x[i] = Math.max(-1, Math.min(1, x[i]));
            }
            Safetensors.write(images, Map.of("images", OwnedArrays.of(m, x, new Shape(n, 3, 32, 32)), "labels", OwnedArrays.of(m, labels)),
                    Map.of());
        }
        store = dir.resolve("store");
        Path json = dir.resolve("cache.json");
        CliRun r = CliRun.of("cache-latents", MODEL.toString(), "--data", images.toString(), "--out", store.toString(), "--flip",
                "--shard-size", "16", "--json", json.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("cached 60 image(s) and their flips as 120 latents");
        JsonNode j = JSON.readTree(json.toFile());
        assertThat(j.get("latents").asInt()).isEqualTo(120);
        assertThat(j.get("shards").asInt()).isEqualTo(4);
        assertThat(j.path("stats").path("channel_std").size()).isEqualTo(8);
        assertThat(store.resolve("stats.json")).exists();
    }

    @Test
    void cachingAgainIsANoOpAndStatisticsCanGoIntoTheCheckpoint() throws Exception {
        Path copy = dir.resolve("model-copy");
        Files.createDirectories(copy);
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(MODEL.resolve(f), copy.resolve(f));
        }
        CliRun again = CliRun.of("cache-latents", MODEL.toString(), "--data", images.toString(), "--out", store.toString(), "--flip",
                "--shard-size", "16", "--write-stats-to", copy.toString());
        assertThat(again.exitCode()).as(again.err()).isZero();
        assertThat(again.out()).contains("already complete");
        JsonNode stats = JSON.readTree(store.resolve("stats.json").toFile());
        JsonNode config = JSON.readTree(copy.resolve("config.json").toFile());
        assertThat(config.get("vq_mean").asDouble()).isEqualTo(stats.get("mean").asDouble());
        assertThat(config.get("vq_std").asDouble()).isEqualTo(stats.get("std").asDouble());

        CliRun other = CliRun.of("cache-latents", MODEL.toString(), "--data", images.toString(), "--out", store.toString());
        assertThat(other.exitCode()).isEqualTo(1);
        assertThat(other.err().strip().lines()).hasSize(1);
        assertThat(other.err()).contains("cache.json").contains("flip");
        CliRun usage = CliRun.of("cache-latents", MODEL.toString(), "--data", images.toString(), "--out", dir.resolve("x").toString(),
                "--shard-size", "0");
        assertThat(usage.exitCode()).isEqualTo(2);
    }

    @Test
    void gmmReportsEachFitAndPlotsThem() throws Exception {
        Path json = dir.resolve("gmm.json");
        Path plot = dir.resolve("gmm.png");
        CliRun r = CliRun.of("analyze", "gmm", store.toString(), "--k", "1,2,4", "--covariance", "diag,full", "--pca-dims", "4",
                "--restarts", "2", "--json", json.toString(), "--plot", plot.toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("96 train / 24 test rows").contains("64 dims -> 4 by PCA");
        JsonNode results = JSON.readTree(json.toFile()).get("results");
        assertThat(results.size()).isEqualTo(6);
        for (JsonNode f : results) {
            assertThat(f.fieldNames()).toIterable().contains("k", "covariance", "nll_per_dim", "bic");
            assertThat(f.get("nll_per_dim").isNumber()).isTrue();
        }
        // one component: the full Gaussian fits the training rows at least as well as the diagonal one
        assertThat(results.get(3).get("train_nll_per_dim").asDouble()).isLessThanOrEqualTo(results.get(0).get("train_nll_per_dim").asDouble() + 1e-9);
        assertNotBlank(plot);

        CliRun both = CliRun.of("analyze", "gmm", store.toString(), "--pca", "none", "--pca-dims", "3");
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(both.err()).contains("--pca-variance, --pca-dims");
        CliRun badCov = CliRun.of("analyze", "gmm", store.toString(), "--covariance", "spherical");
        assertThat(badCov.exitCode()).isEqualTo(2);
        assertThat(badCov.err()).contains("spherical");
        CliRun tooMany = CliRun.of("analyze", "gmm", store.toString(), "--k", "500", "--pca-dims", "2");
        assertThat(tooMany.exitCode()).isEqualTo(1);
        assertThat(tooMany.err()).contains("500");
    }

    @Test
    void probeSeparatesTheColouredClasses() throws Exception {
        Path json = dir.resolve("probe.json");
        CliRun r = CliRun.of("analyze", "probe", store.toString(), "--json", json.toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode j = JSON.readTree(json.toFile());
        assertThat(j.get("accuracy").asDouble()).isGreaterThan(0.9);
        long total = 0;
        for (JsonNode row : j.get("confusion")) {
            for (JsonNode v : row) {
                total += v.asLong();
            }
        }
        assertThat(total).isEqualTo(j.get("test_rows").asLong()).isEqualTo(24);
        Path png = dir.resolve("probe.png");
        CliRun plotted = CliRun.of("analyze", "probe", store.toString(), "--plot", png.toString(), "--no-progress");
        assertThat(plotted.exitCode()).as(plotted.err()).isZero();
        assertThat(plotted.out()).contains("plot -> " + png);
        assertThat(javax.imageio.ImageIO.read(png.toFile()).getWidth()).isEqualTo(maetok4j.plot.Charts.WIDTH);
        assertThat(CliRun.of("analyze", "probe", store.toString(), "--plot", dir.resolve("p.jpg").toString()).exitCode()).isEqualTo(2);
        CliRun pooled = CliRun.of("analyze", "probe", store.toString(), "--pool", "mean", "--no-progress");
        assertThat(pooled.exitCode()).as(pooled.err()).isZero();
        assertThat(pooled.out()).contains("8 features");

        Path unlabelled = dir.resolve("z.safetensors");
        CliRun enc = CliRun.of("encode", MODEL.toString(), images.toString(), "--out", unlabelled.toString());
        assertThat(enc.exitCode()).as(enc.err()).isZero();
        CliRun none = CliRun.of("analyze", "probe", unlabelled.toString());
        assertThat(none.exitCode()).isEqualTo(1);
        assertThat(none.err().strip().lines()).hasSize(1);
        assertThat(none.err()).contains(unlabelled.toString()).contains("no labels");
    }

    @Test
    void scatterDrawsTheClasses() throws Exception {
        Path png = dir.resolve("scatter.png");
        CliRun r = CliRun.of("analyze", "scatter", store.toString(), "--out", png.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("120 points");
        assertNotBlank(png);
    }

    @Test
    void smoothnessWritesCurvesStripsAndJson() throws Exception {
        Path out = dir.resolve("smooth");
        CliRun r = CliRun.of("analyze", "smoothness", MODEL.toString(), "--data", images.toString(), "--images", "8", "--pairs", "2",
                "--steps", "4", "--sigmas", "0,0.5,2", "--stats", store.toString(), "--out", out.toString(), "--no-progress");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode j = JSON.readTree(out.resolve("smoothness.json").toFile());
        JsonNode curve = j.get("results").get(0).get("noise");
        assertThat(curve.size()).isEqualTo(3);
        assertThat(curve.get(2).get("psnr_to_clean").asDouble()).isLessThan(curve.get(1).get("psnr_to_clean").asDouble());
        assertNotBlank(out.resolve("smoothness.png"));
        BufferedImage strip = ImageIO.read(out.resolve("interpolation-maetok-rope-mixed.png").toFile());
        assertThat(strip.getHeight()).isLessThan(strip.getWidth()); // 2 rows of 6 pictures
        CliRun bad = CliRun.of("analyze", "smoothness", MODEL.toString(), "--data", images.toString(), "--sigmas", "0,x", "--out",
                out.toString());
        assertThat(bad.exitCode()).isEqualTo(2);
    }

    @Test
    void gmmBenchTimesSmallFitsAndWritesTheRowsForScikitLearn() throws Exception {
        Path npy = dir.resolve("bench-rows");
        Path json = dir.resolve("bench.json");
        CliRun r = CliRun.of("analyze", "gmm-bench", "--rows", "300", "--held-out", "100", "--dim", "4", "--clusters", "3", "--k", "2,3",
                "--covariance", "diag,full", "--repeats", "2", "--write-npy", npy.toString(), "--json", json.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("300 x 4 rows");
        assertThat(JSON.readTree(json.toFile()).get("fits").size()).isEqualTo(8);
        assertThat(npy.resolve("train.npy")).exists();
        assertThat(Files.size(npy.resolve("held-out.npy"))).isEqualTo(128 + 100 * 4 * 8);
        CliRun bad = CliRun.of("analyze", "gmm-bench", "--covariance", "tied");
        assertThat(bad.exitCode()).isEqualTo(2);
    }

    static void assertNotBlank(Path png) throws Exception {
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isGreaterThan(400);
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 3) {
            for (int x = 0; x < img.getWidth(); x += 3) {
                colours.add(img.getRGB(x, y));
            }
        }
        assertThat(colours.size()).as(png + " has content").isGreaterThan(20);
    }
}
