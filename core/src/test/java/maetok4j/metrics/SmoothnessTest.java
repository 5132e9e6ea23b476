package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.data.ImageTensors;
import maetok4j.TestData;
import maetok4j.tensor.Engines;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SmoothnessTest {

    static {
        Engines.configure();
    }

    @Test
    void noiseLowersFidelityAndZeroNoiseIsThePlainReconstruction() {
        try (NDManager m = NDManager.newBaseManager(); Tokenizer t = Tokenizers.open(resource("fixtures/maetok-rope-mixed").toString(), m)) {
            NDArray x = ImageTensors.load(TestData.noisePictures(6), new int[] {0, 1, 2, 3, 4, 5}, t.imageSize(), m);
            double[] std = new double[(int) t.latentShape()[1]];
            Arrays.fill(std, 1.0);
            double[] sigmas = {0, 0.5, 4};
            List<Smoothness.Point> p = Smoothness.noiseSweep(t, x, sigmas, std, 7, 4, n -> {});
            ReconstructionMetrics plain = new ReconstructionMetrics();
            plain.add(x, t.reconstruct(x));
            assertThat(p.get(0).psnr()).isCloseTo(plain.psnr(), within(1e-9));
            assertThat(p.get(0).psnrToClean()).as("only rounding separates them").isGreaterThan(100);
            assertThat(p.get(1).psnrToClean()).isFinite().isGreaterThan(p.get(2).psnrToClean());
            assertThat(p.get(2).ssimToClean()).isLessThan(p.get(1).ssimToClean());
            // the same seed gives the same noise; batches do not change the draw order
            assertThat(Smoothness.noiseSweep(t, x, sigmas, std, 7, 4, n -> {})).isEqualTo(p);
            assertThat(Smoothness.noiseSweep(t, x, sigmas, std, 8, 4, n -> {}).get(1).psnr()).isNotEqualTo(p.get(1).psnr());
            assertThatThrownBy(() -> Smoothness.noiseSweep(t, x, sigmas, new double[3], 7, 4, n -> {})).hasMessageContaining("channels");
            assertThatThrownBy(() -> Smoothness.noiseSweep(t, x, new double[] {-1}, std, 7, 4, n -> {})).hasMessageContaining("≥ 0");
        }
    }

    @Test
    void interpolationStartsAndEndsAtTheTwoReconstructions() {
        try (NDManager m = NDManager.newBaseManager(); Tokenizer t = Tokenizers.open(resource("fixtures/maetok-rope-mixed").toString(), m)) {
            NDArray x = ImageTensors.load(TestData.noisePictures(2), new int[] {0, 1}, t.imageSize(), m);
            NDArray a = x.get("0:1");
            NDArray b = x.get("1:2");
            Smoothness.Interpolation in = Smoothness.interpolate(t, a, b, 5);
            assertThat(in.frames().getShape().get(0)).isEqualTo(5);
            float[] first = in.frames().get("0:1").toFloatArray();
            float[] last = in.frames().get("4:5").toFloatArray();
            float[] ra = t.reconstruct(a).toFloatArray();
            float[] rb = t.reconstruct(b).toFloatArray();
            for (int i = 0; i < ra.length; i++) {
                assertThat(first[i]).isCloseTo(ra[i], within(1e-4f));
                assertThat(last[i]).isCloseTo(rb[i], within(1e-4f));
            }
            // the triangle inequality: the walked path is never shorter than the straight line
            assertThat(in.pathRatio()).isGreaterThanOrEqualTo(1 - 1e-9);
        }
    }
}
