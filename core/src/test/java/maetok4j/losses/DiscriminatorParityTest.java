package maetok4j.losses;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.nn.FrozenNetwork;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The discriminators against torch 1.13 re-implementations of the reference's structure with its keys
 * ({@code resources/discriminators/make_discriminators.py}): the state dict loads by key and the logits
 * (training and evaluation mode), gradients and updated buffers agree to 1e-5 relative.
 */
class DiscriminatorParityTest {

    static {
        Engines.configure();
    }

    private static final double TOLERANCE = 1e-5;

    private static Path file(String name) {
        return resource("discriminators/" + name);
    }

    /** A backbone that must never run: the parity tests feed the heads directly. */
    private static final FrozenNetwork NO_BACKBONE = new FrozenNetwork() {
        @Override
        public NDList forward(NDArray input) {
            throw new AssertionError("not used");
        }

        @Override
        public void close() {}
    };

    @Test
    void patchGanMatchesTorch() {
        try (NDManager m = NDManager.newBaseManager();
                Safetensors model = Safetensors.open(file("patchgan-model.safetensors"));
                Safetensors io = Safetensors.open(file("patchgan-io.safetensors"));
                PatchGanDiscriminator d = PatchGanDiscriminator.create(new PatchGanDiscriminator.Config(3, 8, 3), m, 0)) {
            assertThat(d.stateDict().keySet()).containsExactlyElementsOf(model.tensors().keySet());
            d.load(model);
            NDArray images = io.read("images", m);

            d.train(true);
            NDArray train = d.forward(images);
            assertThat(train.getShape()).isEqualTo(new Shape(2, 1, 2, 2));
            assertThat(relativeError(train, io.read("logits_train", m))).isLessThan(TOLERANCE);
            for (String key : io.tensors().keySet()) {
                if (key.startsWith("after.")) {
                    NDArray expected = io.readAs(key, m, ai.djl.ndarray.types.DataType.FLOAT32);
                    assertThat(relativeError(d.stateDict().get(key.substring(6)).array(), expected)).as(key).isLessThan(TOLERANCE);
                }
            }
            assertThat(d.stateDict().get("main.3.num_batches_tracked").array().getFloat()).isEqualTo(8f);

            d.train(false);
            assertThat(relativeError(d.forward(images), io.read("logits_eval", m))).isLessThan(TOLERANCE);
        }
    }

    @Test
    void patchGanInitialisesAsTheReference() {
        try (NDManager m = NDManager.newBaseManager();
                PatchGanDiscriminator d = PatchGanDiscriminator.create(PatchGanDiscriminator.Config.defaults(), m, 7)) {
            var sd = d.stateDict();
            assertThat(sd.keySet()).contains("main.0.weight", "main.0.bias", "main.2.weight", "main.3.running_var",
                    "main.8.weight", "main.9.num_batches_tracked", "main.11.weight", "main.11.bias");
            assertThat(sd).doesNotContainKeys("main.2.bias", "main.5.bias", "main.8.bias");
            assertThat(sd.get("main.8.weight").shape()).isEqualTo(new Shape(512, 256, 4, 4));
            assertThat(sd.get("main.11.weight").shape()).isEqualTo(new Shape(1, 512, 4, 4));
            float[] w = sd.get("main.8.weight").array().toFloatArray(); // 2M draws of N(0, 0.02)
            assertThat(mean(w)).isCloseTo(0, within(1e-4));
            assertThat(std(w)).isCloseTo(0.02, within(1e-4));
            float[] g = sd.get("main.9.weight").array().toFloatArray(); // N(1, 0.02)
            assertThat(mean(g)).isCloseTo(1, within(0.01));
            assertThat(std(g)).isCloseTo(0.02, within(0.004));
            assertThat(sd.get("main.9.bias").array().toFloatArray()).containsOnly(0f);
            float[] b = sd.get("main.0.bias").array().toFloatArray(); // torch's default U(±1/sqrt(48))
            for (float v : b) {
                assertThat(Math.abs(v)).isLessThanOrEqualTo((float) (1 / Math.sqrt(48)));
            }
            assertThat(d.parameterCount()).isEqualTo(2_765_633L); // taming's NLayerDiscriminator(3, 64, 3)
            assertThat(d.kind()).isEqualTo("patchgan");
        }
        assertThatThrownBy(() -> new PatchGanDiscriminator.Config(3, 64, 0)).hasMessageContaining("layers >= 1");
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(float[] v) {
        double mu = mean(v);
        double s = 0;
        for (float x : v) {
            s += (x - mu) * (x - mu);
        }
        return Math.sqrt(s / v.length);
    }

    @Test
    void dinoHeadsMatchTorch() {
        DinoDiscriminator.Config config = new DinoDiscriminator.Config(32, 5, 9, 64, 1e-6, true);
        try (NDManager m = NDManager.newBaseManager();
                Safetensors model = Safetensors.open(file("dino-heads-model.safetensors"));
                Safetensors io = Safetensors.open(file("dino-heads-io.safetensors"));
                DinoDiscriminator d = DinoDiscriminator.create(config, NO_BACKBONE, new SplittableRandom(0), m, 0)) {
            assertThat(d.stateDict().keySet()).containsExactlyElementsOf(model.tensors().keySet());
            d.load(model);
            NDList features = new NDList();
            for (int i = 0; i < 5; i++) {
                NDArray f = io.read("features." + i, m);
                f.setRequiresGradient(true);
                features.add(f);
            }
            d.trainableParameters().values().forEach(p -> p.array().setRequiresGradient(true));

            d.train(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = d.heads(features);
                assertThat(logits.getShape()).isEqualTo(new Shape(3, 5 * 16));
                assertThat(relativeError(logits, io.read("logits_train", m))).isLessThan(TOLERANCE);
                gc.backward(logits.mul(io.read("weights", m)).sum());
            }
            assertThat(relativeError(features.get(0).getGradient(), io.read("grad_features.0", m))).isLessThan(TOLERANCE);
            assertThat(relativeError(features.get(4).getGradient(), io.read("grad_features.4", m))).isLessThan(TOLERANCE);
            for (String key : io.tensors().keySet()) {
                if (key.startsWith("grad.heads.")) {
                    Parameter p = d.stateDict().get(key.substring(5));
                    assertThat(relativeError(p.array().getGradient(), io.read(key, m))).as(key).isLessThan(TOLERANCE);
                } else if (key.startsWith("after.")) {
                    NDArray expected = io.readAs(key, m, ai.djl.ndarray.types.DataType.FLOAT32);
                    assertThat(relativeError(d.stateDict().get(key.substring(6)).array(), expected)).as(key).isLessThan(TOLERANCE);
                }
            }

            d.train(false);
            assertThat(relativeError(d.heads(features), io.read("logits_eval", m))).isLessThan(TOLERANCE);
        }
    }

    @Test
    void backboneInputIsImageNetNormalisedAndResizedAsTorchDoes() {
        try (NDManager m = NDManager.newBaseManager(); Safetensors io = Safetensors.open(file("resize-io.safetensors"))) {
            assertThat(relativeError(DinoDiscriminator.resize(io.read("big", m), 32), io.read("big_area_32", m))).isLessThan(TOLERANCE);
            assertThat(relativeError(DinoDiscriminator.resize(io.read("small", m), 32), io.read("small_bicubic_32", m)))
                    .isLessThan(TOLERANCE);

            // [-1, 1] → ((x + 1)/2 − mean)/std: -1 → -mean/std, 1 → (1 − mean)/std
            NDArray x = m.create(new float[] {-1, 1, -1, 1, -1, 1}, new Shape(1, 3, 1, 2));
            float[] y = DinoDiscriminator.imagenet(x).toFloatArray();
            double[] mean = {0.485, 0.456, 0.406};
            double[] std = {0.229, 0.224, 0.225};
            for (int c = 0; c < 3; c++) {
                assertThat((double) y[2 * c]).isCloseTo(-mean[c] / std[c], within(1e-5));
                assertThat((double) y[2 * c + 1]).isCloseTo((1 - mean[c]) / std[c], within(1e-5));
            }

            NDArray grid = m.arange(0f, 2 * 3 * 6 * 5f).reshape(2, 3, 6, 5);
            assertThat(DinoDiscriminator.crop(grid, 4, 1, 0).toFloatArray()).startsWith(5, 6, 7, 8, 10, 11, 12, 13);
            // a same-size input passes unchanged; a larger one is cropped (same window for the batch) or area-resized
            assertThat(DinoDiscriminator.resize(grid.get(":, :, :5, :"), 5).toFloatArray()).containsExactly(grid.get(":, :, :5, :").toFloatArray());
            int crops = 0;
            SplittableRandom rng = new SplittableRandom(11);
            NDArray area = DinoDiscriminator.resize(DinoDiscriminator.imagenet(grid), 4);
            for (int i = 0; i < 200; i++) {
                NDArray out = DinoDiscriminator.toBackbone(grid, 4, rng);
                assertThat(out.getShape()).isEqualTo(new Shape(2, 3, 4, 4));
                if (relativeError(out, area) > 1e-6) {
                    crops++;
                }
                out.close();
            }
            assertThat(crops).isBetween(70, 130); // probability 1/2
        }
    }
}
