package maetok4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Smoke runs of every {@code maetok eval} command on bundled data and committed test networks, and their failures. */
class EvalCommandTest {

    static final ObjectMapper JSON = new ObjectMapper();
    /** The tiny random-init conv net (features and logits) exported once to TorchScript and ONNX by make_feature_net.py. */
    static final Path NET = Path.of("../core/src/test/resources/metrics/feature-net.pt");
    static final Path ONNX = Path.of("../core/src/test/resources/metrics/feature-net.onnx");
    static final Path MODEL = CliRun.fixture("maetok-rope-mixed");
    static final Path IMAGES = MODEL.resolve("io.safetensors");

    @Test
    void compareReportsPairedAndSetMetricsWithTheNetworkNamed(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("c.json");
        CliRun r = CliRun.of("eval", "compare", IMAGES.toString(), IMAGES.toString(), "--features", ONNX.toString(), "--no-progress",
                "--json", json.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(json.toFile());
        for (String key : List.of("psnr", "ssim", "fd", "kid", "is", "precision", "recall")) {
            assertThat(o.has(key)).as(key).isTrue();
        }
        assertThat(o.get("pairs").asInt()).isEqualTo(3);
        assertThat(o.get("ssim").asDouble()).isGreaterThan(0.999);
        assertThat(Math.abs(o.get("fd").asDouble())).isLessThan(1e-6); // a set against itself
        assertThat(o.get("fd_name").asText()).isEqualTo("FD");
        assertThat(o.get("feature_network").asText()).contains("make_feature_net.py");
        assertThat(r.out()).contains("FD ").doesNotContain("FID");

        CliRun bare = CliRun.of("eval", "compare", IMAGES.toString(), IMAGES.toString(), "--no-progress", "--json", json.toString());
        assertThat(bare.exitCode()).as(bare.err()).isZero();
        assertThat(JSON.readTree(json.toFile()).get("fd").isNull()).isTrue();
        assertThat(bare.out()).contains("no feature network given");
    }

    @Test
    void statsThenSamplesAgainstTheStatisticsAndAgainstImages(@TempDir Path dir) throws Exception {
        Path stats = dir.resolve("ref.npz");
        CliRun s = CliRun.of("eval", "stats", "emoji-noto-64", "--features", NET.toString(), "--image-size", "32", "--images", "40",
                "--out", stats.toString(), "--no-progress");
        assertThat(s.exitCode()).as(s.err()).isZero();
        assertThat(stats).exists();

        Path json = dir.resolve("s.json");
        CliRun a = CliRun.of("eval", "samples", IMAGES.toString(), "--ref", stats.toString(), "--features", NET.toString(),
                "--no-progress", "--json", json.toString());
        assertThat(a.exitCode()).as(a.err()).isZero();
        JsonNode fromStats = JSON.readTree(json.toFile());
        assertThat(fromStats.get("fd").asDouble()).isPositive();
        assertThat(fromStats.get("precision").isNull()).isTrue(); // statistics carry no points

        CliRun b = CliRun.of("eval", "samples", IMAGES.toString(), "--ref", "emoji-noto-64", "--ref-images", "40", "--features",
                NET.toString(), "--no-progress", "--json", json.toString());
        assertThat(b.exitCode()).as(b.err()).isZero();
        JsonNode fromImages = JSON.readTree(json.toFile());
        // the same 40 reference images (same seed) give the same FD either way
        assertThat(fromImages.get("fd").asDouble()).isCloseTo(fromStats.get("fd").asDouble(), org.assertj.core.data.Offset.offset(1e-6));
        assertThat(fromImages.get("kid").isNumber()).isTrue();
        assertThat(fromImages.has("classifier_accuracy")).isFalse(); // no labels, no accuracy

        // labels the classifier agrees with score 1, labels it never picks score 0
        long[] predicted;
        int k;
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
                maetok4j.metrics.FeatureNetwork net = maetok4j.metrics.FeatureNetworks.load(NET);
                maetok4j.tensor.Safetensors io = maetok4j.tensor.Safetensors.open(IMAGES)) {
            maetok4j.metrics.FeatureNetwork.Activations act = net.extract(io.read("images", m));
            k = act.logits().length / act.batch();
            predicted = maetok4j.analysis.Confusion.argmax(act.logits(), k);
        }
        for (int shift : new int[] {0, 1}) {
            long[] labels = predicted.clone();
            for (int i = 0; i < labels.length; i++) {
                labels[i] = (labels[i] + shift) % k;
            }
            Path labelFile = dir.resolve("labels" + shift + ".safetensors");
            try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
                maetok4j.tensor.Safetensors.write(labelFile, Map.of("labels", maetok4j.tensor.OwnedArrays.of(m, labels)), Map.of());
            }
            CliRun l = CliRun.of("eval", "samples", IMAGES.toString(), "--ref", stats.toString(), "--features", NET.toString(),
                    "--labels", labelFile.toString(), "--no-progress", "--json", json.toString());
            assertThat(l.exitCode()).as(l.err()).isZero();
            assertThat(JSON.readTree(json.toFile()).get("classifier_accuracy").asDouble()).isEqualTo(shift == 0 ? 1.0 : 0.0);
            assertThat(l.out()).contains("classifier accuracy");
        }

        // an ADM reference batch: the images in arr_0 (uint8 [N, H, W, 3]) are used, not its stored statistics
        Path adm = dir.resolve("adm.npz");
        byte[] pixels = new byte[10 * 32 * 32 * 3];
        new java.util.Random(1).nextBytes(pixels);
        java.util.Map<String, maetok4j.tensor.Npz.NpyArray> entries = new java.util.LinkedHashMap<>();
        entries.put("arr_0", maetok4j.tensor.Npz.NpyArray.ofUnsignedBytes(pixels, 10, 32, 32, 3));
        maetok4j.tensor.Npz.write(adm, entries);
        CliRun c = CliRun.of("eval", "samples", IMAGES.toString(), "--ref", adm.toString(), "--features", NET.toString(),
                "--no-progress", "--json", json.toString());
        assertThat(c.exitCode()).as(c.err()).isZero();
        JsonNode fromAdm = JSON.readTree(json.toFile());
        assertThat(fromAdm.get("real_images").asInt()).isEqualTo(10);
        assertThat(fromAdm.get("kid").isNumber()).isTrue();

        CliRun noNet = CliRun.of("eval", "samples", IMAGES.toString(), "--ref", stats.toString());
        assertThat(noNet.exitCode()).isEqualTo(2);
        CliRun badNet = CliRun.of("eval", "samples", IMAGES.toString(), "--ref", stats.toString(), "--features", dir.resolve("nope.pt").toString());
        assertThat(badNet.exitCode()).isEqualTo(1);
        assertThat(badNet.err().strip().lines()).hasSize(1);
        assertThat(badNet.err()).contains("nope.pt");
    }

    @Test
    void reconScoresTheTokenizerAndThePcaBaseline(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("r.json");
        CliRun r = CliRun.of("eval", "recon", MODEL.toString(), "--data", "emoji-noto-64", "--val-images", "12", "--features", NET.toString(),
                "--batch-size", "6", "--no-progress", "--json", json.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(json.toFile());
        assertThat(o.get("images").asInt()).isEqualTo(12);
        assertThat(o.get("psnr").asDouble()).isBetween(1.0, 60.0); // a random-init fixture model: finite, far from perfect
        assertThat(o.get("rfd").isNumber()).isTrue();
        assertThat(o.get("rfd_name").asText()).isEqualTo("rFD");
        assertThat(o.at("/latents/channel_std").size()).isPositive();
        JsonNode pca = o.get("pca_baseline");
        assertThat(pca.get("components").asInt()).isPositive();
        assertThat(pca.has("psnr") || pca.has("skipped")).isTrue();

        CliRun tooMany = CliRun.of("eval", "recon", MODEL.toString(), "--data", "emoji-noto-64", "--val-images", "100000");
        assertThat(tooMany.exitCode()).isEqualTo(2);
    }

    @Test
    void trainFeaturesMakesAClassifierTheOtherCommandsUseAsFd(@TempDir Path dir) throws Exception {
        Path clf = dir.resolve("clf");
        CliRun t = CliRun.of("eval", "train-features", "--data", "emoji-noto-64", "--out", clf.toString(), "--epochs", "1",
                "--image-size", "32", "--no-progress", "--json", dir.resolve("t.json").toString());
        assertThat(t.exitCode()).as(t.err()).isZero();
        assertThat(clf.resolve("config.json")).exists();
        assertThat(clf.resolve("model.safetensors")).exists();
        assertThat(JSON.readTree(dir.resolve("t.json").toFile()).get("val_accuracy").asDouble()).isBetween(0.0, 1.0);

        CliRun again = CliRun.of("eval", "train-features", "--data", "emoji-noto-64", "--out", clf.toString(), "--epochs", "1");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).contains("--force");

        Path json = dir.resolve("c.json");
        CliRun c = CliRun.of("eval", "compare", IMAGES.toString(), IMAGES.toString(), "--features", clf.toString(), "--no-progress",
                "--json", json.toString());
        assertThat(c.exitCode()).as(c.err()).isZero();
        JsonNode o = JSON.readTree(json.toFile());
        assertThat(o.get("fd_name").asText()).isEqualTo("FD");
        assertThat(o.get("fid_inception").asBoolean()).isFalse();
        assertThat(o.get("feature_network").asText()).containsIgnoringCase("domain classifier");
    }

    @Test
    void benchTimesSsimAndFeatures(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("b.json");
        CliRun b = CliRun.of("eval", "bench", "--image-size", "32", "--batch-size", "4", "--iterations", "2", "--features", NET.toString(),
                "--json", json.toString());
        assertThat(b.exitCode()).as(b.err()).isZero();
        JsonNode o = JSON.readTree(json.toFile());
        assertThat(o.get("psnr_ssim_images_per_second").asDouble()).isPositive();
        assertThat(o.get("features_images_per_second").asDouble()).isPositive();
        assertThat(Files.exists(json)).isTrue();
    }
}
