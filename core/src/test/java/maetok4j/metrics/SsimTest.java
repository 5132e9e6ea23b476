package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.tensor.Engines;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SsimTest {

    static {
        Engines.configure();
    }

    private static JsonNode cases() throws IOException {
        return new ObjectMapper().readTree(resource("metrics/ssim_cases.json").toFile());
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }

    @Test
    void matchesScikitImage() throws IOException {
        List<String> checked = new ArrayList<>();
        for (JsonNode c : cases().get("cases")) {
            var o = new Ssim.Options(c.get("gaussian").asBoolean(), c.get("sigma").asDouble(), c.get("win").asInt(),
                    c.get("sample_cov").asBoolean(), c.get("data_range").asDouble());
            double v = Ssim.ssim(floats(c.get("a")), floats(c.get("b")), c.get("channels").asInt(), c.get("h").asInt(),
                    c.get("w").asInt(), o);
            assertThat(v).as(c.get("name").asText()).isCloseTo(c.get("expected").asDouble(), within(1e-9));
            checked.add(c.get("name").asText());
        }
        assertThat(checked).hasSize(11);
    }

    @Test
    void presetsAreScikitImagesConventions() {
        assertThat(Ssim.Options.gaussian(255)).isEqualTo(new Ssim.Options(true, 1.5, 11, false, 255));
        assertThat(Ssim.Options.uniform(1)).isEqualTo(new Ssim.Options(false, 1.5, 7, true, 1));
        assertThat(Ssim.Options.referenceEval().dataRange()).isEqualTo(2.0);
        assertThat(Ssim.gaussianWindow(0.8)).isEqualTo(7);
    }

    @Test
    void identicalImagesScoreOneAndOrderDoesNotMatter() {
        var rng = new SplittableRandom(3);
        float[] a = new float[3 * 19 * 23];
        float[] b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rng.nextDouble();
            b[i] = (float) Math.min(1, Math.max(0, a[i] + 0.2 * rng.nextGaussian()));
        }
        var o = Ssim.Options.gaussian(1);
        assertThat(Ssim.ssim(a, a, 3, 19, 23, o)).isCloseTo(1.0, within(1e-12));
        assertThat(Ssim.ssim(a, b, 3, 19, 23, o)).isCloseTo(Ssim.ssim(b, a, 3, 19, 23, o), within(1e-12)).isLessThan(0.99);
    }

    @Test
    void rejectsBadWindows() {
        assertThatThrownBy(() -> new Ssim.Options(false, 1.5, 6, true, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Ssim.Options(false, 1.5, 1, true, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Ssim.Options(false, 1.5, 7, true, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Ssim(3, 6, 30, Ssim.Options.uniform(1))).hasMessageContaining("exceeds");
    }

    @Test
    void accumulatorFollowsTheReferenceEvaluation() throws IOException {
        JsonNode p = cases().get("protocol");
        long[] dims = new long[4];
        for (int i = 0; i < 4; i++) {
            dims[i] = p.get("shape").get(i).asLong();
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(floats(p.get("originals")), new Shape(dims));
            NDArray y = m.create(floats(p.get("reconstructions")), new Shape(dims));
            var metrics = new ReconstructionMetrics();
            // two batches: the accumulator averages over images, not over batches
            metrics.add(x.get("0:2"), y.get("0:2"));
            metrics.add(x.get("2:"), y.get("2:"));
            assertThat(metrics.count()).isEqualTo(dims[0]);
            // scikit-image computed the reference's float32 images in float32
            assertThat(metrics.psnr()).isCloseTo(p.get("psnr_mean").asDouble(), within(1e-5));
            assertThat(metrics.ssim()).isCloseTo(p.get("ssim_mean").asDouble(), within(1e-6));
            double[] perImage = Psnr.perImage(x, maetok4j.data.ImageTensors.quantize(y));
            for (int i = 0; i < perImage.length; i++) {
                assertThat(perImage[i]).isCloseTo(p.get("psnr").get(i).asDouble(), within(1e-4));
            }
        }
    }
}
