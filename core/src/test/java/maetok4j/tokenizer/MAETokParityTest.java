package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;

/** The reference implementation's outputs on its own random-weight models, reproduced to 1e-4. */
class MAETokParityTest {

    static {
        Engines.configure();
    }

    private static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"maetok-rope-mixed", "maetok-rope-cls-plain", "maetok-ape"})
    void reproducesTheReferenceOutputs(String fixture) {
        Path dir = resource("fixtures/" + fixture);
        try (NDManager manager = NDManager.newBaseManager();
                Safetensors io = Safetensors.open(dir.resolve("io.safetensors"));
                MAETok model = (MAETok) Checkpoints.load(dir, manager, StateDict.Mode.STRICT).tokenizer()) {
            NDArray images = io.read("images", manager);
            NDArray latents = io.read("latents", manager);

            assertThat(relativeError(model.encode(images), latents)).as("latents").isLessThan(TOLERANCE);
            assertThat(relativeError(model.decode(latents), io.read("reconstructions", manager)))
                    .as("reconstructions").isLessThan(TOLERANCE);
            assertThat(relativeError(model.encodeMasked(images, io.read("mask", manager)), io.read("latents_masked", manager)))
                    .as("masked latents").isLessThan(TOLERANCE);
            if (io.tensors().containsKey("aux_hog_pred")) {
                assertThat(relativeError(model.decodeAux("hog", latents), io.read("aux_hog_pred", manager)))
                        .as("HOG decoder").isLessThan(TOLERANCE);
            }
        }
    }
}
