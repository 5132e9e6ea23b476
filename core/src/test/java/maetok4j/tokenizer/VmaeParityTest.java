package maetok4j.tokenizer;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The reference VMAE's outputs on its own random-weight model (fixture {@code vmae-small}), reproduced to 1e-4. */
class VmaeParityTest {

    static {
        Engines.configure();
    }

    private static final double TOLERANCE = 1e-4;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path FIXTURE = resource("fixtures/vmae-small");

    @TempDir
    Path tmp;

    static VMAE loadFixture(NDManager manager) {
        return (VMAE) Checkpoints.load(FIXTURE, manager, StateDict.Mode.STRICT).tokenizer();
    }

    /** [B, N, C] tokens in raster order → [B, C, h, w], as the reference's rearrange. */
    static NDArray map(NDArray tokens, int grid) {
        Shape s = tokens.getShape();
        return tokens.transpose(0, 2, 1).reshape(s.get(0), s.get(2), grid, grid);
    }

    @Test
    void reproducesTheReferenceOutputs() {
        try (NDManager manager = NDManager.newBaseManager();
                Safetensors io = Safetensors.open(FIXTURE.resolve("io.safetensors"));
                VMAE model = loadFixture(manager)) {
            NDArray images = io.read("images", manager);
            NDArray mean = io.read("latent_mean", manager); // [B, N, C]
            int grid = model.config.grid();

            double moments = relativeError(model.moments(images), io.read("moments", manager));
            double latents = relativeError(model.encode(images), map(mean, grid));
            double images2 = relativeError(model.decode(map(mean, grid)), io.read("reconstructions", manager));
            assertThat(moments).as("moments").isLessThan(TOLERANCE);
            assertThat(latents).as("latent mean").isLessThan(TOLERANCE);
            assertThat(images2).as("reconstructions").isLessThan(TOLERANCE);
            assertThat(model.latentShape()).containsExactly(4, 4, 4);
            assertThat(model.latentChannelAxis()).isZero();
        }
    }

    @Test
    void foldersAreRecognisedByTheirConfig() {
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer t = Tokenizers.open(FIXTURE.toString(), manager)) {
            assertThat(t).isInstanceOf(VMAE.class);
            assertThat(Tokenizers.info(FIXTURE.toString()).kind()).isEqualTo("vmae");
        }
        assertThatThrownBy(() -> Tokenizers.config(FIXTURE.toString())).hasMessageContaining("describes a VMAE");
    }

    @Test
    void samplesAreMeanPlusSigmaTimesNoise() {
        try (NDManager manager = NDManager.newBaseManager();
                Safetensors io = Safetensors.open(FIXTURE.resolve("io.safetensors"));
                VMAE model = loadFixture(manager)) {
            NDArray images = io.read("images", manager);
            NDArray moments = io.read("moments", manager);
            NDArray sample = model.sample(images, new SplittableRandom(7)); // [B, C, h, w]

            SplittableRandom rng = new SplittableRandom(7);
            float[] m = moments.toFloatArray(); // [B, N, 2C]
            int b = 3;
            int n = 16;
            int c = 4;
            float[] expected = new float[b * c * n]; // [B, C, N]
            for (int i = 0; i < b; i++) {
                for (int t = 0; t < n; t++) {
                    for (int k = 0; k < c; k++) {
                        int at = (i * n + t) * 2 * c;
                        double logvar = Math.max(-30, Math.min(20, m[at + c + k]));
                        expected[(i * c + k) * n + t] = (float) (m[at + k] + Math.exp(0.5 * logvar) * rng.nextGaussian());
                    }
                }
            }
            NDArray want = manager.create(expected, new Shape(b, c, 4, 4));
            assertThat(relativeError(sample, want)).isLessThan(TOLERANCE);
        }
    }

    @Test
    void saveAndLoadKeepKeysValuesAndConfig() throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
                Safetensors io = Safetensors.open(FIXTURE.resolve("io.safetensors"));
                VMAE model = loadFixture(manager)) {
            model.save(tmp);
            try (Safetensors original = Safetensors.open(FIXTURE.resolve(Checkpoints.WEIGHTS));
                    Safetensors saved = Safetensors.open(tmp.resolve(Checkpoints.WEIGHTS))) {
                assertThat(saved.tensors().keySet()).containsExactlyElementsOf(original.tensors().keySet());
                for (String k : original.tensors().keySet()) {
                    assertThat(saved.read(k, manager).toFloatArray()).as(k).containsExactly(original.read(k, manager).toFloatArray());
                }
            }
            assertThat(JSON.readTree(tmp.resolve(Checkpoints.CONFIG).toFile())).isEqualTo(JSON.readTree(FIXTURE.resolve(Checkpoints.CONFIG).toFile()));
            try (VMAE again = (VMAE) Checkpoints.load(tmp, manager, StateDict.Mode.STRICT).tokenizer()) {
                NDArray images = io.read("images", manager);
                assertThat(again.encode(images).toFloatArray()).containsExactly(model.encode(images).toFloatArray());
            }
        }
    }

    @Test
    void sinCosTableIsTheReferences() {
        // get_2d_sincos_pos_embed(8, 2) from the reference's util/pos_embed.py: ω = [1, 0.01]; columns first, then rows.
        float s1 = 0.841471f;
        float s01 = 0.00999983f;
        float c1 = 0.5403023f;
        float c01 = 0.99995f;
        float[] expected = {
            0, 0, 1, 1, 0, 0, 1, 1, // row 0, column 0
            s1, s01, c1, c01, 0, 0, 1, 1, // row 0, column 1
            0, 0, 1, 1, s1, s01, c1, c01, // row 1, column 0
            s1, s01, c1, c01, s1, s01, c1, c01, // row 1, column 1
        };
        float[] table = SinCosPosEmbed.table(8, 2);
        for (int i = 0; i < expected.length; i++) {
            assertThat(table[i]).as("entry %d", i).isCloseTo(expected[i], within(1e-6f));
        }
        // The released width and grid: token (row 5, column 17), channel k of each quarter.
        float[] released = SinCosPosEmbed.table(192, 32);
        int base = (5 * 32 + 17) * 192;
        for (int k = 0; k < 48; k++) {
            double omega = 1 / Math.pow(10000, k / 48.0);
            assertThat((double) released[base + k]).isCloseTo(Math.sin(17 * omega), within(1e-5));
            assertThat((double) released[base + 48 + k]).isCloseTo(Math.cos(17 * omega), within(1e-5));
            assertThat((double) released[base + 96 + k]).isCloseTo(Math.sin(5 * omega), within(1e-5));
            assertThat((double) released[base + 144 + k]).isCloseTo(Math.cos(5 * omega), within(1e-5));
        }
    }

    @Test
    void freshModelsHoldTheSinCosTables() {
        VmaeConfig c = VmaeConfig.fromJson(fixtureConfig());
        try (NDManager manager = NDManager.newBaseManager(); VMAE model = VMAE.create(c, manager, 3)) {
            assertThat(model.posEmbed.array().toFloatArray()).containsExactly(SinCosPosEmbed.table(48, 4));
            assertThat(model.decoderPosEmbed.array().toFloatArray()).containsExactly(SinCosPosEmbed.table(48, 4));
        }
    }

    @Test
    void aNonVariationalModelEncodesItsLatentDirectly() {
        VmaeConfig c = VmaeConfig.fromJson(fixtureConfig().put("variational", false));
        try (NDManager manager = NDManager.newBaseManager(); VMAE model = VMAE.create(c, manager, 3)) {
            NDArray images = manager.randomUniform(-1, 1, new Shape(2, 3, 32, 32));
            assertThat(model.toLatent.weight().shape()).isEqualTo(new Shape(4, 48));
            assertThat(model.encode(images).toFloatArray()).containsExactly(map(model.moments(images), 4).toFloatArray());
            assertThatThrownBy(() -> model.sample(images, new SplittableRandom(0))).hasMessageContaining("not variational");
        }
    }

    @Test
    void resizingToTheSameGridIsTheIdentity() {
        try (NDManager manager = NDManager.newBaseManager(); VMAE model = loadFixture(manager)) {
            float[] table = model.posEmbed.array().toFloatArray();
            assertThat(SinCosPosEmbed.resize(table, 48, 4, 4)).containsExactly(table);
        }
    }

    @Test
    void resizingIsPyTorchsBilinearWithoutAlignedCorners() {
        // One channel holding 10·row + column on a 2x2 grid. Upsampled to 4x4, pixel i samples the input at
        // (i + 0.5)/2 − 0.5 = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (held at the edge, 1).
        float[] ramp = {0, 1, 10, 11};
        float[] up = SinCosPosEmbed.resize(ramp, 1, 2, 4);
        double[] at = {0, 0.25, 0.75, 1};
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 4; c++) {
                assertThat((double) up[r * 4 + c]).as("(%d, %d)", r, c).isCloseTo(10 * at[r] + at[c], within(1e-6));
            }
        }
        // Downsampled 4x4 → 2x2, pixel i samples at 2i + 0.5: the mean of each 2x2 block.
        float[] fine = new float[16];
        for (int i = 0; i < 16; i++) {
            fine[i] = i * i;
        }
        float[] down = SinCosPosEmbed.resize(fine, 1, 4, 2);
        assertThat(down[0]).isEqualTo((0 + 1 + 16 + 25) / 4f);
        assertThat(down[3]).isEqualTo((100 + 121 + 196 + 225) / 4f);
        // Channels are resized independently.
        float[] two = SinCosPosEmbed.resize(new float[] {0, 5, 1, 5, 10, 5, 11, 5}, 2, 2, 4);
        for (int i = 0; i < 16; i++) {
            assertThat(two[2 * i]).isEqualTo(up[i]);
            assertThat(two[2 * i + 1]).isEqualTo(5f);
        }
    }

    @Test
    void loadingAtAnotherSizeResizesThePositionTables() throws IOException {
        ObjectNode c = fixtureConfig().put("img_size", 64);
        Files.copy(FIXTURE.resolve(Checkpoints.WEIGHTS), tmp.resolve(Checkpoints.WEIGHTS));
        Files.writeString(tmp.resolve(Checkpoints.CONFIG), c.toString());
        try (NDManager manager = NDManager.newBaseManager();
                VMAE small = loadFixture(manager);
                VMAE large = (VMAE) Checkpoints.load(tmp, manager, StateDict.Mode.STRICT).tokenizer()) {
            assertThat(large.posEmbed.array().toFloatArray())
                    .containsExactly(SinCosPosEmbed.resize(small.posEmbed.array().toFloatArray(), 48, 4, 8));
            assertThat(large.decoderPosEmbed.array().toFloatArray())
                    .containsExactly(SinCosPosEmbed.resize(small.decoderPosEmbed.array().toFloatArray(), 48, 4, 8));
            assertThat(large.toLatent.weight().array().toFloatArray()).containsExactly(small.toLatent.weight().array().toFloatArray());
            NDArray z = large.encode(manager.randomUniform(-1, 1, new Shape(2, 3, 64, 64)));
            assertThat(z.getShape()).isEqualTo(new Shape(2, 4, 8, 8));
            assertThat(large.decode(z).getShape()).isEqualTo(new Shape(2, 3, 64, 64));
        }
    }

    @Test
    void configErrorsAreOneLineNamingTheFileAndKey() throws IOException {
        assertBadConfig(c -> c.put("kl_loss_weight", 1e-6), "unknown field 'kl_loss_weight'");
        assertBadConfig(c -> c.remove("latent_dim"), "missing field 'latent_dim'");
        assertBadConfig(c -> c.put("num_heads", 5), "embed_dim 48 is not divisible by num_heads 5");
        assertBadConfig(c -> c.put("decoder_embed_dim", 96), "decoder_embed_dim 96 must equal embed_dim 48");
        assertBadConfig(c -> c.put("img_size", 36), "img_size 36 is not a positive multiple of patch_size 8");
        assertBadConfig(c -> c.put("smooth_output", false), "smooth_output=false is not supported");
        assertBadConfig(c -> c.put("layer_norm_eps", 1e-5), "layer_norm_eps must be 1e-06");
        assertBadConfig(c -> c.put("variational", "yes"), "field 'variational' must be true or false");
    }

    private void assertBadConfig(Consumer<ObjectNode> edit, String message) throws IOException {
        ObjectNode c = fixtureConfig();
        edit.accept(c);
        Path config = tmp.resolve(Checkpoints.CONFIG);
        Files.writeString(config, c.toString());
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> Checkpoints.load(tmp, manager))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageStartingWith(config + ": ")
                    .hasMessageContaining(message)
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
    }

    @Test
    void releasedSizeMatchesTheReferenceCounts() {
        TokenizerInfo info = Tokenizers.info("vmae-f8d16");
        assertThat(info.stateElements()).isEqualTo(11_191_412L); // spec §2.2: 42.7 MB in fp32
        assertThat(info.parameters()).isEqualTo(11_191_412L - 2 * 1024 * 192); // without the fixed tables
        assertThat(info.latentShape()).containsExactly(16, 32, 32);
        assertThat(info.imageSize()).isEqualTo(256);
        var keys = new VMAE(Presets.vmae("vmae-f8d16")).stateDict();
        assertThat(keys.get("pos_embed").shape()).isEqualTo(new Shape(1, 1024, 192));
        assertThat(keys.get("to_latent.weight").shape()).isEqualTo(new Shape(32, 192));
        assertThat(keys.get("decoder_pred.linear_pred.weight").shape()).isEqualTo(new Shape(192, 192));
        assertThat(keys.get("decoder_pred.conv_smoother.weight").shape()).isEqualTo(new Shape(3, 3, 3, 3));
        assertThat(keys).containsKey("decoder_blocks.11.mlp.fc2.bias").doesNotContainKey("blocks.12.norm1.weight");
    }

    @Test
    void inferenceLeavesNoNativeArraysBehind() {
        try (NDManager m = NDManager.newBaseManager(); VMAE model = loadFixture(m)) {
            List<Integer> counts = new ArrayList<>();
            SplittableRandom rng = new SplittableRandom(0);
            for (int i = 0; i < 5; i++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray images = step.randomUniform(-1, 1, new Shape(2, 3, 32, 32));
                    model.decode(model.encode(images));
                    model.decode(model.sample(images, rng));
                    model.moments(images);
                }
                counts.add(((BaseNDManager) m).getManagedArrays().size() + ((BaseNDManager) model.manager()).getManagedArrays().size());
            }
            assertThat(counts).containsOnly(counts.get(0));
            assertThat(((BaseNDManager) model.manager()).getManagedArrays()).hasSize(model.stateDict().size());
        }
    }

    private static ObjectNode fixtureConfig() {
        try {
            return (ObjectNode) JSON.readTree(FIXTURE.resolve(Checkpoints.CONFIG).toFile());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
