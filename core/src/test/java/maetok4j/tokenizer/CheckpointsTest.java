package maetok4j.tokenizer;

import ai.djl.ndarray.NDManager;
import maetok4j.nn.Parameter;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CheckpointsTest {

    static {
        Engines.configure();
    }

    @TempDir
    Path tmp;

    @Test
    void savedModelReloadsBitIdentically() {
        try (NDManager m = NDManager.newBaseManager(); MAETok model = MAETok.create(Presets.get("maetok-cpu"), m, 7)) {
            model.save(tmp);
            try (MAETok again = (MAETok) Checkpoints.load(tmp, m, StateDict.Mode.STRICT).tokenizer()) {
                Map<String, Parameter> a = model.stateDict();
                Map<String, Parameter> b = again.stateDict();
                assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
                a.forEach((k, p) -> assertThat(b.get(k).array().toByteArray()).as(k).isEqualTo(p.array().toByteArray()));
                assertThat(again.config).isEqualTo(model.config);
            }
        }
    }

    @Test
    void fixtureSavedAgainKeepsEveryKeyShapeAndDtype() {
        Path fixture = resource("fixtures/maetok-rope-mixed");
        try (NDManager m = NDManager.newBaseManager();
                Tokenizer t = Checkpoints.load(fixture, m, StateDict.Mode.STRICT).tokenizer()) {
            t.save(tmp);
        }
        try (Safetensors before = Safetensors.open(fixture.resolve(Checkpoints.WEIGHTS));
                Safetensors after = Safetensors.open(tmp.resolve(Checkpoints.WEIGHTS))) {
            assertThat(after.tensors().keySet()).containsExactlyElementsOf(before.tensors().keySet());
            for (TensorInfo t : before.tensors().values()) {
                TensorInfo u = after.tensors().get(t.name());
                assertThat(u.shape()).as(t.name()).isEqualTo(t.shape());
                assertThat(u.dtype()).as(t.name()).isEqualTo(t.dtype());
            }
        }
    }

    @Test
    void strictLoadingNamesMissingUnexpectedAndMisshapedKeys() throws IOException {
        Path fixture = resource("fixtures/maetok-rope-mixed");
        Path folder = tmp.resolve("m");
        Files.createDirectories(folder);
        Files.copy(fixture.resolve(Checkpoints.WEIGHTS), folder.resolve(Checkpoints.WEIGHTS));
        // Drop the HOG decoder from the config: its 27 tensors become unexpected.
        String config = Files.readString(fixture.resolve(Checkpoints.CONFIG)).replace("\"hog\"", "");
        Files.writeString(folder.resolve(Checkpoints.CONFIG), config);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> Checkpoints.load(folder, m, StateDict.Mode.STRICT))
                    .hasMessageContaining(folder.resolve(Checkpoints.WEIGHTS).toString())
                    .hasMessageContaining("unexpected 27 key(s): decoder_hog.mask_token");
            Checkpoints.Loaded lenient = Checkpoints.load(folder, m, StateDict.Mode.LENIENT);
            assertThat(lenient.ignoredKeys()).hasSize(27).allMatch(k -> k.contains("_hog"));
            lenient.tokenizer().close();

            Files.writeString(folder.resolve(Checkpoints.CONFIG), config.replace("\"num_latent_tokens\": 8", "\"num_latent_tokens\": 9"));
            assertThatThrownBy(() -> Checkpoints.load(folder, m, StateDict.Mode.LENIENT))
                    .hasMessageContaining("wrong shape: encoder.latent_tokens [1, 8, 64] != expected (1, 9, 64)");

            Files.writeString(folder.resolve(Checkpoints.CONFIG), config.replace("\"depth\": 2", "\"depth\": 3"));
            assertThatThrownBy(() -> Checkpoints.load(folder, m, StateDict.Mode.LENIENT))
                    .hasMessageContaining("missing").hasMessageContaining("encoder.model.blocks.2.norm1.weight");
        }
    }

    @Test
    void configNestedUnderConfigLoadsToo() throws IOException {
        Path fixture = resource("fixtures/maetok-ape");
        Files.writeString(tmp.resolve(Checkpoints.CONFIG), "{\"config\": " + Files.readString(fixture.resolve(Checkpoints.CONFIG))
                + ", \"repo_url\": \"x\"}");
        assertThat(Checkpoints.readConfig(tmp)).isEqualTo(Checkpoints.readConfig(fixture));
    }

    @Test
    void folderProblemsAreNamed() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> Checkpoints.load(tmp.resolve("none"), m)).hasMessageContaining("not a checkpoint folder");
            Files.writeString(tmp.resolve(Checkpoints.CONFIG), "{not json");
            assertThatThrownBy(() -> Checkpoints.load(tmp, m)).hasMessageContaining("config.json: not valid JSON");
            Files.copy(resource("fixtures/maetok-ape/config.json"), tmp.resolve(Checkpoints.CONFIG),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThatThrownBy(() -> Checkpoints.load(tmp, m)).hasMessageContaining("model.safetensors: no such file");
        }
    }

    @Test
    void inferenceLeavesNoNativeArraysBehind() {
        try (NDManager m = NDManager.newBaseManager(); MAETok model = MAETok.create(Presets.get("maetok-cpu"), m, 1)) {
            List<Integer> counts = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                try (NDManager step = m.newSubManager()) {
                    var images = step.randomUniform(-1, 1, new ai.djl.ndarray.types.Shape(2, 3, 32, 32));
                    model.decode(model.encode(images));
                }
                counts.add(((ai.djl.ndarray.BaseNDManager) m).getManagedArrays().size()
                        + ((ai.djl.ndarray.BaseNDManager) model.manager()).getManagedArrays().size());
            }
            assertThat(counts).containsOnly(counts.get(0));
            assertThat(((ai.djl.ndarray.BaseNDManager) model.manager()).getManagedArrays()).hasSize(model.stateDict().size());
        }
    }
}
