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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The teacher is {@code torchscript/teacher.pt} (make_networks.py): patch-8 conv embedding, CLS token, one
 * transformer block, final LayerNorm, returning (cls [B, 24], tokens [B, 17, 24]).
 */
class TeacherFeaturesTest {

    static {
        Engines.configure();
    }

    static final Path TEACHER = resource("torchscript/teacher.pt");
    static final Path REFERENCE = resource("torchscript/reference.safetensors");

    @Test
    void sidecarTargetsMatchTorch() {
        try (NDManager m = NDManager.newBaseManager(); TeacherFeatures t = TeacherFeatures.load(TEACHER);
                Safetensors ref = Safetensors.open(REFERENCE)) {
            assertThat(t.config()).isEqualTo(new TeacherFeatures.Config(NetworkInput.imagenet(0), 1, 1, 24));
            NDArray targets = t.targets(ref.read("teacher.images32", m));
            assertThat(targets.getShape()).isEqualTo(new Shape(2, 16, 24));
            assertThat(relativeError(targets, ref.read("teacher.targets32", m))).isLessThan(1e-5);
        }
    }

    @Test
    void largerImagesAreResizedToTheTeachersSize() {
        TeacherFeatures.Config c = new TeacherFeatures.Config(NetworkInput.imagenet(32), 1, 1, 24);
        try (NDManager m = NDManager.newBaseManager(); TeacherFeatures t = TeacherFeatures.load(TEACHER, c);
                Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray targets = t.targets(ref.read("teacher.images48", m)); // bilinear 48 → 32, as F.interpolate
            assertThat(relativeError(targets, ref.read("teacher.targets48", m))).isLessThan(1e-5);
        }
    }

    @Test
    void targetsCarryNoGradientAndLeaveOnlyThemselvesBehind() {
        try (NDManager m = NDManager.newBaseManager(); TeacherFeatures t = TeacherFeatures.load(TEACHER);
                Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray images = ref.read("teacher.images32", m);
            images.setRequiresGradient(true);
            int before = ((BaseNDManager) m).getManagedArrays().size();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray targets = t.targets(images);
                // the teacher's intermediates and its unused CLS output were released; only the targets remain
                assertThat(((BaseNDManager) m).getManagedArrays().size()).isEqualTo(before + 1);
                assertThat(targets.getManager()).isSameAs(m);
                NDArray loss = targets.square().sum();
                assertThatThrownBy(() -> gc.backward(loss)).hasMessageContaining("does not require grad");
            }
        }
    }

    @Test
    void negativeCosineMatchesTheReference() {
        try (NDManager m = NDManager.newBaseManager(); Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray pred = ref.read("cosine.pred", m);
            NDArray target = ref.read("teacher.targets32", m);
            NDArray mask = ref.read("cosine.mask", m);
            pred.setRequiresGradient(true);
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                loss = TeacherFeatures.negativeCosine(pred, target, mask);
                gc.backward(loss);
            }
            double expected = ref.read("cosine.loss", m).getFloat(0);
            assertThat((double) loss.getFloat()).isCloseTo(expected, within(1e-5 * Math.abs(expected)));
            assertThat(relativeError(pred.getGradient(), ref.read("cosine.grad", m))).isLessThan(1e-5);
        }
    }

    @Test
    void negativeCosineByHand() {
        try (NDManager m = NDManager.newBaseManager()) {
            // tokens: (3,4)·(4,3) → cos 24/25; (1,0)·(0,2) → 0; (0,0)·(1,1) → 0 (F.normalize's eps: no NaN)
            NDArray pred = m.create(new float[] {3, 4, 1, 0, 0, 0}, new Shape(1, 3, 2));
            NDArray target = m.create(new float[] {4, 3, 0, 2, 1, 1}, new Shape(1, 3, 2));
            NDArray all = m.create(new float[] {1, 1, 1}, new Shape(1, 3));
            NDArray first = m.create(new float[] {1, 0, 0}, new Shape(1, 3));
            NDArray firstAndLast = m.create(new float[] {1, 0, 1}, new Shape(1, 3));
            assertThat((double) TeacherFeatures.negativeCosine(pred, target, all).getFloat()).isCloseTo(-0.96 / 3, within(1e-7));
            assertThat((double) TeacherFeatures.negativeCosine(pred, target, first).getFloat()).isCloseTo(-0.96, within(1e-7));
            assertThat((double) TeacherFeatures.negativeCosine(pred, target, firstAndLast).getFloat()).isCloseTo(-0.48, within(1e-7));
            assertThat((double) TeacherFeatures.negativeCosine(pred, target, null).getFloat()).isCloseTo(-0.32, within(1e-7));
            assertThatThrownBy(() -> TeacherFeatures.negativeCosine(pred, m.zeros(new Shape(1, 4, 2)), all))
                    .hasMessageContaining("teacher's patch grid must equal the tokenizer's token grid");
            assertThatThrownBy(() -> TeacherFeatures.negativeCosine(pred, target, m.zeros(new Shape(3))))
                    .hasMessage("mask (3) must be [B, N] = [1, 3]");
        }
    }

    @Test
    void wrongOutputsAreReported() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray images = m.zeros(new Shape(2, 3, 32, 32));
            try (TeacherFeatures t = TeacherFeatures.load(TEACHER, new TeacherFeatures.Config(NetworkInput.imagenet(0), 1, 1, 32))) {
                assertThatThrownBy(() -> t.targets(images)).hasMessage(TEACHER
                        + ": the network's output 1 is (2, 17, 24), expected [B=2, N+1 prefix tokens, dim=32]");
            }
            try (TeacherFeatures t = TeacherFeatures.load(TEACHER, new TeacherFeatures.Config(NetworkInput.imagenet(0), 1, 0, 24))) {
                assertThatThrownBy(() -> t.targets(images)).hasMessage(TEACHER
                        + ": the network's output 0 is (2, 24), expected [B=2, N+1 prefix tokens, dim=24]");
            }
            try (TeacherFeatures t = TeacherFeatures.load(TEACHER, new TeacherFeatures.Config(NetworkInput.imagenet(0), 1, 2, 24))) {
                assertThatThrownBy(() -> t.targets(images)).hasMessage(TEACHER + ": output_index 2 but the network returns 2 output(s)");
            }
            assertThat(((BaseNDManager) m).getManagedArrays()).hasSize(1); // failures released the teacher's arrays too
        }
    }

    @Test
    void sidecarProblemsNameTheFileAndField(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("t.json");
        Files.writeString(json, "{\"kind\": \"teacher\", \"input\": {\"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}, \"dim\": 8}");
        assertThatThrownBy(() -> TeacherFeatures.Config.fromJson(json)).hasMessage(json + ": 'prefix_tokens' is required (an integer >= 0)");
        Files.writeString(json, "{\"kind\": \"teacher\", \"input\": {\"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}, \"prefix_tokens\": 1}");
        assertThatThrownBy(() -> TeacherFeatures.Config.fromJson(json)).hasMessage(json + ": 'dim' is required (an integer >= 1)");
        Files.writeString(json, "{\"kind\": \"teacher\", \"input\": {\"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}, \"prefix_tokens\": 1.5, \"dim\": 8}");
        assertThatThrownBy(() -> TeacherFeatures.Config.fromJson(json)).hasMessage(json + ": 'prefix_tokens' must be an integer >= 0, got 1.5");
        Files.writeString(json, "{\"kind\": \"teacher\", \"input\": {\"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5], \"size\": 3},"
                + " \"prefix_tokens\": 1, \"dim\": 8}");
        assertThatThrownBy(() -> TeacherFeatures.Config.fromJson(json)).hasMessageStartingWith(json + ": 'input.size' is not a known field");
        Files.writeString(json, "{\"kind\": \"teacher\", \"input\": {\"mean\": [0.5,0.5,0.5], \"std\": [0.5,0.5,0.5]}, \"image_size\": 224,"
                + " \"prefix_tokens\": 5, \"output_index\": 0, \"dim\": 1024}");
        assertThat(TeacherFeatures.Config.fromJson(json))
                .isEqualTo(new TeacherFeatures.Config(new NetworkInput(new float[] {0, 0, 0}, new float[] {1, 1, 1}, 224), 5, 0, 1024));
    }
}
