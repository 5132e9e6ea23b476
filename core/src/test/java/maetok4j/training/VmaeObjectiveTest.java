package maetok4j.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.losses.Perceptual;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import maetok4j.tokenizer.Checkpoints;
import maetok4j.tokenizer.VMAE;
import maetok4j.tokenizer.VmaeMasking;
import maetok4j.training.VmaeObjective.KlForm;
import maetok4j.training.VmaeObjective.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The VMAE training loss against torch ({@code vmae-train/make_vmae_train.py}: the reference's
 * {@code forward_vanilla} + {@code forward_loss} in float64 on the {@code vmae-small} fixture, fed the same masking
 * noise, ε and input noise): every logged part and the gradients of several parameters to 1e-4 relative.
 */
class VmaeObjectiveTest {

    static {
        Engines.configure();
    }

    private static final double TOLERANCE = 1e-4;
    private static final Path FIXTURE = resource("fixtures/vmae-small");
    private static final Path REFERENCE = resource("vmae-train/vmae-train.safetensors");
    private static final Path FEATURES = resource("torchscript/features.pt");

    /** The generator's cases, same settings. */
    private static Options options(String testCase) {
        return switch (testCase) {
            case "vmae" -> new Options(0.25, 0.75, false, KlForm.FIXED_STD, 1e-3, 1e-6, 0.5, 0);
            case "vae" -> new Options(0.5, 0.4, true, KlForm.STANDARD, 1, 0.01, 0, 0.1);
            case "plain" -> new Options(0, 0.5, false, KlForm.FIXED_STD, 1, 0, 2, 0);
            default -> throw new IllegalArgumentException(testCase);
        };
    }

    /** The VMAE being trained together with its mask token, as one parameter tree for {@link TrainStep}. */
    private static final class Trained extends Module {
        Trained(VMAE model, VmaeMasking masking) {
            child("model", model);
            child("masking", masking);
        }
    }

    private static VMAE loadModel(NDManager manager) {
        return (VMAE) Checkpoints.load(FIXTURE, manager, StateDict.Mode.STRICT).tokenizer();
    }

    private static VmaeMasking masking(VMAE model, NDManager manager, Safetensors ref) {
        VmaeMasking masking = new VmaeMasking(model.config);
        masking.initialize(manager, 0);
        masking.maskToken.set(ref.read("mask_token", manager));
        return masking;
    }

    private static float[] optional(Safetensors ref, String key, NDManager manager) {
        return ref.contains(key) ? ref.read(key, manager).toFloatArray() : null;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vmae", "vae", "plain"})
    void lossPartsAndGradientsMatchTorch(String testCase) {
        Options options = options(testCase);
        try (NDManager manager = NDManager.newBaseManager();
                Safetensors ref = Safetensors.open(REFERENCE);
                VMAE model = loadModel(manager);
                Perceptual perceptual = options.perceptualWeight() > 0 ? Perceptual.load(FEATURES) : null) {
            VmaeMasking masking = masking(model, manager, ref);
            Trained trained = new Trained(model, masking);
            TrainStep.enableGradients(trained);
            VmaeObjective objective = new VmaeObjective(model, masking, options, perceptual);
            VmaeObjective.Draws draws = new VmaeObjective.Draws(optional(ref, testCase + ".input_noise", manager),
                    optional(ref, testCase + ".mask_noise", manager), optional(ref, testCase + ".eps", manager));

            VmaeObjective.Result result;
            try (NDManager scope = manager.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray images = ref.read("images", scope);
                result = objective.loss(images, draws);
                gc.backward(result.loss());
            }

            List<String> expectedTerms = new ArrayList<>(List.of("kl_loss", "vis_loss", "loss"));
            if (options.maskRatio() > 0) {
                expectedTerms.add("mask_loss");
            }
            if (perceptual != null) {
                expectedTerms.add("p_loss");
            }
            assertThat(result.terms()).containsOnlyKeys(expectedTerms);
            for (Map.Entry<String, Double> t : result.terms().entrySet()) {
                double expected = ref.read(testCase + "." + t.getKey(), manager).getFloat(0);
                assertThat(Math.abs(t.getValue() - expected) / Math.abs(expected)).as(t.getKey()).isLessThan(TOLERANCE);
            }
            Map<String, Parameter> params = trained.stateDict();
            int compared = 0;
            for (String key : ref.tensors().keySet()) {
                String prefix = testCase + ".grad.";
                if (!key.startsWith(prefix)) {
                    continue;
                }
                String name = key.substring(prefix.length());
                Parameter p = params.get(name.equals("mask_token") ? "masking.mask_token" : "model." + name);
                try (NDArray grad = p.array().getGradient()) {
                    assertThat(relativeError(grad, ref.read(key, manager))).as("gradient of " + name).isLessThan(TOLERANCE);
                }
                compared++;
            }
            assertThat(compared).isGreaterThanOrEqualTo(4);
        }
    }

    @Test
    void nativeArrayCountStaysFlatOverTrainingSteps() {
        Options options = new Options(0.25, 0.75, true, KlForm.FIXED_STD, 1e-3, 1e-6, 0.5, 0.05);
        try (NDManager base = NDManager.newBaseManager();
                Safetensors ref = Safetensors.open(REFERENCE);
                VMAE model = loadModel(base);
                Perceptual perceptual = Perceptual.load(FEATURES);
                AdamW adam = new AdamW(new AdamW.Config(0.9, 0.95, 1e-8, 0.05), base)) {
            VmaeMasking masking = masking(model, base, ref);
            Trained trained = new Trained(model, masking);
            TrainStep.enableGradients(trained);
            VmaeObjective objective = new VmaeObjective(model, masking, options, perceptual);
            float[] images = ref.read("images", base).toFloatArray();
            SplittableRandom rng = new SplittableRandom(3);
            List<Integer> counts = new ArrayList<>();
            List<Double> losses = new ArrayList<>();
            for (int step = 0; step < 20; step++) {
                TrainStep.Result r = TrainStep.run(trained, base,
                        scope -> objective.loss(OwnedArrays.of(scope, images, new Shape(2, 3, 32, 32)), rng).loss(),
                        adam, 1e-3, 1.0);
                losses.add(r.loss());
                counts.add(((BaseNDManager) base).getManagedArrays().size());
            }
            assertThat(counts.subList(1, counts.size())).containsOnly(counts.get(1));
            assertThat(losses).allMatch(Double::isFinite);
            assertThat(losses.get(19)).isLessThan(losses.get(0)); // it learns the one batch
        }
    }

    @Test
    void sameSeedGivesTheSameLoss() {
        Options options = new Options(0.5, 0.75, false, KlForm.FIXED_STD, 1e-3, 1e-6, 0, 0.1);
        try (NDManager manager = NDManager.newBaseManager();
                Safetensors ref = Safetensors.open(REFERENCE);
                VMAE model = loadModel(manager)) {
            VmaeObjective objective = new VmaeObjective(model, masking(model, manager, ref), options, null);
            NDArray images = ref.read("images", manager);
            double a = objective.loss(images, new SplittableRandom(11)).terms().get("loss");
            double b = objective.loss(images, new SplittableRandom(11)).terms().get("loss");
            double c = objective.loss(images, new SplittableRandom(12)).terms().get("loss");
            assertThat(a).isEqualTo(b).isNotEqualTo(c);
        }
    }

    @Test
    void maskKeepsTheLowestNoiseAndRestoresTheOrder() {
        float[] noise = {0.9f, 0.1f, 0.5f, 0.3f, /* second sample */ 0.2f, 0.4f, 0.8f, 0.6f};
        VmaeMasking.Mask m = VmaeMasking.Mask.fromNoise(noise, 2, 4, 0.5);
        assertThat(m.visible()).isEqualTo(2);
        assertThat(m.keep()).isEqualTo(new int[][] {{1, 3}, {0, 1}});
        assertThat(m.restore()).isEqualTo(new int[][] {{3, 0, 2, 1}, {0, 1, 3, 2}});
        assertThat(m.dropped()).containsExactly(1, 0, 1, 0, 0, 0, 1, 1);
        assertThat(VmaeMasking.visibleCount(256, 0.25)).isEqualTo(192);
        assertThatThrownBy(() -> VmaeMasking.visibleCount(4, 0.9)).hasMessageContaining("keeps no patch");
    }

    @Test
    void optionsAndSettingsAreValidated() {
        assertThatThrownBy(() -> new Options(1.0, 0.5, false, KlForm.FIXED_STD, 1e-3, 0, 0, 0)).hasMessageContaining("mask ratio");
        assertThatThrownBy(() -> new Options(0.25, 1.5, false, KlForm.FIXED_STD, 1e-3, 0, 0, 0)).hasMessageContaining("visible loss ratio");
        assertThatThrownBy(() -> new Options(0.25, 0.5, false, KlForm.STANDARD, 1e-3, 0, 0, 0)).hasMessageContaining("N(0, I)");
        assertThatThrownBy(() -> new Options(0.25, 0.5, false, KlForm.FIXED_STD, 0, 0, 0, 0)).hasMessageContaining("KL std");
        assertThatThrownBy(() -> new Options(0.25, 0.5, false, KlForm.FIXED_STD, 1, 0, -1, 0)).hasMessageContaining("perceptual weight");
        assertThatThrownBy(() -> new Options(0.25, 0.5, false, KlForm.FIXED_STD, 1, 0, 0, Double.NaN)).hasMessageContaining("noise std");
        try (NDManager manager = NDManager.newBaseManager(); VMAE model = loadModel(manager)) {
            Options masked = new Options(0.25, 0.5, false, KlForm.FIXED_STD, 1, 0, 0, 0);
            assertThatThrownBy(() -> new VmaeObjective(model, null, masked, null)).hasMessageContaining("mask token");
            Options perceptual = new Options(0, 0.5, false, KlForm.FIXED_STD, 1, 0, 0.5, 0);
            assertThatThrownBy(() -> new VmaeObjective(model, null, perceptual, null)).hasMessageContaining("perceptual");
            VmaeObjective plain = new VmaeObjective(model, null, new Options(0, 0.5, false, KlForm.FIXED_STD, 1, 0, 0, 0), null);
            NDArray wrong = manager.zeros(new Shape(1, 3, 16, 16));
            assertThatThrownBy(() -> plain.loss(wrong, new SplittableRandom(1))).hasMessageContaining("images must be");
            NDArray images = manager.zeros(new Shape(2, 3, 32, 32));
            assertThatThrownBy(() -> plain.loss(images, new VmaeObjective.Draws(null, null, new float[3])))
                    .hasMessageContaining("eps must have 128 values");
        }
    }
}
