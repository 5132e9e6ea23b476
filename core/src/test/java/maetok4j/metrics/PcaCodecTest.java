package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class PcaCodecTest {

    static {
        Engines.configure();
    }

    @Test
    void matchesNumpyAndMoreComponentsNeverLowerPsnr() throws IOException {
        var psnr = new ObjectMapper().readTree(resource("analysis/pca.json").toFile()).get("codec.psnr");
        try (NDManager m = NDManager.newBaseManager();
                Safetensors ref = Safetensors.open(resource("analysis/pca.safetensors"))) {
            NDArray images = ref.read("codec.images", m); // [60, 3, 6, 5]
            var fitter = new PcaCodec.Fitter(3, 6, 5);
            fitter.add(images.get("0:25"));
            fitter.add(images.get("25:"));
            double previous = Double.NEGATIVE_INFINITY;
            for (int k = 1; k <= 60; k++) {
                PcaCodec codec = fitter.fit(k);
                assertThat(codec.latentFloats()).isEqualTo(k);
                NDArray codes = codec.encode(images);
                assertThat(codes.getShape().getShape()).containsExactly(60, k);
                NDArray rec = codec.decode(codes);
                assertThat(rec.getShape()).isEqualTo(images.getShape());
                assertThat(rec.min().getFloat()).isGreaterThanOrEqualTo(-1f);
                assertThat(rec.max().getFloat()).isLessThanOrEqualTo(1f);
                // the images are smaller than the reference's 7×7 SSIM window; PSNR is what is checked here
                var metrics = new ReconstructionMetrics(new Ssim.Options(false, 1.5, 3, true, 2.0));
                metrics.add(images, rec);
                assertThat(metrics.psnr()).as("k = %d", k).isGreaterThanOrEqualTo(previous);
                previous = metrics.psnr();
                if (psnr.has(Integer.toString(k))) {
                    NDArray expected = ref.read("codec.rec" + k, m);
                    assertThat(rec.sub(expected).abs().max().getFloat()).as("k = %d", k).isLessThan(2e-6f);
                    // a float32 rounding may move one value across a uint8 step: allow a hundredth of a dB
                    assertThat(metrics.psnr()).as("k = %d", k).isCloseTo(psnr.get(Integer.toString(k)).asDouble(), within(1e-2));
                }
            }
            // every direction of 60 samples in 90 dimensions: exact up to clamping and quantisation
            assertThat(previous).isGreaterThan(45);
        }
    }
}
