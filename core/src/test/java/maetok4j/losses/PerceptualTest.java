package maetok4j.losses;

import maetok4j.nn.NetworkInput;
import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Against torch (make_networks.py computes the loss and its gradient in float64) and by hand. */
class PerceptualTest {

    static {
        Engines.configure();
    }

    static final Path FEATURES = resource("torchscript/features.pt");
    static final Path REFERENCE = resource("torchscript/reference.safetensors");

    /** Loss and gradient w.r.t. the reconstruction, compared with the reference to 1e-5 relative. */
    static void assertMatchesTorch(Perceptual p, String key) {
        try (NDManager m = NDManager.newBaseManager(); Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray real = ref.read("perceptual.real", m);
            NDArray fake = ref.read("perceptual.fake", m);
            fake.setRequiresGradient(true);
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                loss = p.loss(real, fake);
                gc.backward(loss);
            }
            assertThat(loss.getShape()).isEqualTo(new Shape());
            double expected = ref.read("perceptual." + key + ".loss", m).getFloat(0);
            assertThat((double) loss.getFloat()).isCloseTo(expected, within(1e-5 * expected));
            assertThat(relativeError(fake.getGradient(), ref.read("perceptual." + key + ".grad", m))).isLessThan(1e-5);
        }
    }

    @Test
    void sidecarConfigurationWithLinWeightsMatchesTorch() {
        try (Perceptual p = Perceptual.load(FEATURES)) {
            assertThat(p.config().input()).isEqualTo(NetworkInput.lpips());
            assertThat(p.config().linWeights()).isEqualTo(FEATURES.resolveSibling("features-lin.safetensors").toAbsolutePath());
            assertMatchesTorch(p, "lin");
        }
    }

    @Test
    void scalarLayerWeightsMeanStdInputAndResizeMatchTorch() {
        // as make_networks.py's case B: ImageNet mean/std, layer weights 0.5/1/2, bilinear resize 32 → 24
        Perceptual.Config c = new Perceptual.Config(NetworkInput.imagenet(24), new double[] {0.5, 1.0, 2.0}, null);
        try (Perceptual p = Perceptual.load(FEATURES, c)) {
            assertMatchesTorch(p, "scalar");
        }
    }

    @Test
    void layerDistanceByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            // one sample, 2 channels, 1×2 pixels. f0: (3,4) → (.6,.8) and (1,0); f1: (0,1) and (0,2) → (0,1)
            NDArray f0 = m.create(new float[] {3, 1, 4, 0}, new Shape(1, 2, 1, 2));
            NDArray f1 = m.create(new float[] {0, 0, 1, 2}, new Shape(1, 2, 1, 2));
            // squared differences: pixel 0 (.36, .04), pixel 1 (1, 1)
            NDArray lin = m.create(new float[] {2f, 0.5f}, new Shape(1, 2, 1, 1));
            // lin: pixel 0 = .72 + .02 = .74, pixel 1 = 2.5; spatial mean 1.62
            assertThat((double) Perceptual.layerDistance(f0, f1, lin, 1).getFloat(0)).isCloseTo(1.62, within(1e-6));
            // scalar weight 3: channel sums .4 and 2, mean 1.2, times 3
            assertThat((double) Perceptual.layerDistance(f0, f1, null, 3).getFloat(0)).isCloseTo(3.6, within(1e-6));
            // an all-zero feature vector stays zero (the 1e-10 keeps it finite); its gradient is the true derivative of
            // z / (|z| + 1e-10) at 0, I / 1e-10, times d/dn = 2 (n - (1, 0)) = (-2, 0): huge but not LPIPS's NaN
            NDArray z = m.zeros(new Shape(1, 2, 1, 1));
            z.setRequiresGradient(true);
            NDArray one = m.create(new float[] {1, 0}, new Shape(1, 2, 1, 1));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray d = Perceptual.layerDistance(z, one, null, 1);
                assertThat((double) d.getFloat(0)).isCloseTo(1.0, within(1e-6));
                gc.backward(d.sum());
            }
            float[] g = z.getGradient().toFloatArray();
            assertThat((double) g[0]).isCloseTo(-2e10, within(1e4));
            assertThat(g[1]).isZero();
        }
    }

    @Test
    void noNativeArraysLeakAcrossScopedSteps() {
        try (NDManager root = NDManager.newBaseManager(); Perceptual p = Perceptual.load(FEATURES);
                Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray real = ref.read("perceptual.real", root);
            NDArray fake0 = ref.read("perceptual.fake", root);
            List<Integer> counts = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                try (NDManager step = root.newSubManager()) {
                    NDArray fake = fake0.duplicate();
                    fake.attach(step);
                    fake.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        gc.backward(p.loss(real, fake));
                    }
                }
                counts.add(((BaseNDManager) root).getManagedArrays().size());
            }
            assertThat(counts).containsOnly(2); // real and fake0
        }
    }

    @Test
    void sidecarProblemsNameTheFileAndField(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("p.json");
        Files.writeString(json, "{\"kind\": \"teacher\", \"input\": {\"shift\": [0,0,0], \"scale\": [1,1,1]}}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessage(json + ": 'kind' must be \"perceptual\", got \"teacher\"");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"shift\": [0,0], \"scale\": [1,1,1]}}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessageStartingWith(json + ": 'input.shift' must be a list of 3 numbers");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"mean\": [0,0,0], \"scale\": [1,1,1]}}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessage(json + ": 'input' needs either shift and scale, or mean and std");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"mean\": [0,0,0], \"std\": [1,0,1]}}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessageStartingWith(json + ": 'input.std' must not contain 0");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"mean\": [0,0,0], \"std\": [1,1,1]}, \"layer_weight\": [1]}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessageStartingWith(json + ": 'layer_weight' is not a known field");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"mean\": [0,0,0], \"std\": [1,1,1]}, \"resize\": 0}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessage(json + ": 'resize' must be an integer >= 1, got 0");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"mean\": [0,0,0], \"std\": [1,1,1]}, \"layer_weights\": [1, -1]}");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessageStartingWith(json + ": 'layer_weights' must not be negative");
        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": ");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(json)).hasMessageStartingWith(json + ": not valid JSON");
        Path absent = tmp.resolve("absent.json");
        assertThatThrownBy(() -> Perceptual.Config.fromJson(absent)).hasMessageStartingWith(absent + ": no such file");

        Files.writeString(json, "{\"kind\": \"perceptual\", \"input\": {\"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}, \"resize\": 16,"
                + " \"layer_weights\": [1, 2], \"lin_weights\": \"lin.safetensors\"}");
        Perceptual.Config c = Perceptual.Config.fromJson(json);
        assertThat(c.input()).isEqualTo(new NetworkInput(new float[] {0, 0, 0}, new float[] {1, 1, 1}, 16));
        assertThat(c.layerWeights()).containsExactly(1, 2);
        assertThat(c.linWeights()).isEqualTo(tmp.resolve("lin.safetensors").toAbsolutePath());
    }

    @Test
    void mismatchedLayersAreReported() {
        Path lin = FEATURES.resolveSibling("features-lin.safetensors");
        // 3 lin layers in the file but 2 layer weights
        assertThatThrownBy(() -> Perceptual.load(FEATURES, new Perceptual.Config(NetworkInput.lpips(), new double[] {1, 1}, lin)))
                .hasMessage(FEATURES + ": layer_weights has 2 entries but features-lin.safetensors has 3 lin layers");
        // the network returns 3 maps but 4 layer weights are configured
        try (NDManager m = NDManager.newBaseManager();
                Perceptual p = Perceptual.load(FEATURES, new Perceptual.Config(NetworkInput.lpips(), new double[] {1, 1, 1, 1}, null))) {
            NDArray x = m.zeros(new Shape(1, 3, 8, 8));
            assertThatThrownBy(() -> p.loss(x, x)).hasMessage(FEATURES + ": the network returns 3 feature maps but layer_weights has 4");
        }
        // lin weights whose file lacks the LPIPS keys
        Path other = resource("torchscript/reference.safetensors");
        assertThatThrownBy(() -> Perceptual.load(FEATURES, new Perceptual.Config(NetworkInput.lpips(), null, other)))
                .isInstanceOf(TensorFileException.class).hasMessageContaining("no lin weights (expected lin0.model.1.weight");
    }

    @Test
    void bilinearMatrixFollowsHalfPixelCentres() {
        // 4 → 2: outputs sample at 0.5 and 2.5, halfway between neighbours
        assertThat(NetworkInput.bilinearMatrix(4, 2)).containsExactly(.5f, .5f, 0, 0, 0, 0, .5f, .5f);
        // 2 → 4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (the last neighbour repeats)
        assertThat(NetworkInput.bilinearMatrix(2, 4)).containsExactly(1, 0, .75f, .25f, .25f, .75f, 0, 1);
    }
}
