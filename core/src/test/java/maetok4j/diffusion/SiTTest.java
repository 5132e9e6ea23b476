package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.nn.Parameter;
import maetok4j.tensor.Engines;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SiTTest {

    static {
        Engines.configure();
    }

    @Test
    void forwardMatchesTheReference() {
        Path dir = resource("fixtures/sit-small");
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.load(dir, m);
                Safetensors io = Safetensors.open(dir.resolve("io.safetensors"))) {
            NDArray x = io.read("x", m);
            NDArray t = io.read("t", m);
            NDArray y = io.read("y", m);
            assertThat(y.toLongArray()[0]).as("the fixture's first label is the null label").isEqualTo(10);
            int before = m.getManagedArrays().size();
            NDArray out = sit.forward(x, t, y);
            assertThat(out.getShape()).isEqualTo(x.getShape());
            assertThat(relativeError(out.toFloatArray(), io.read("out", m).toFloatArray())).isLessThan(1e-4);
            int after = m.getManagedArrays().size();
            sit.forward(x, t, y).close();
            sit.forward(x, t, y).close();
            assertThat(m.getManagedArrays().size()).as("calls leave nothing behind").isEqualTo(after);
        }
    }

    /**
     * The 2D mode with qk-norm and the 1D mode with qk-norm, on fixtures from our own torch forward
     * ({@code diffusion/make_sit_variants.py}), which reproduces the reference's sit-small exactly. Their adaLN and
     * final-layer weights are not zero, so every path of the block counts.
     */
    @ParameterizedTest
    @ValueSource(strings = {"diffusion/sit-2d-qknorm", "diffusion/sit-1d-qknorm"})
    void variantsMatchTheirFixtures(String folder) {
        Path dir = resource(folder);
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.load(dir, m);
                Safetensors io = Safetensors.open(dir.resolve("io.safetensors"))) {
            assertThat(sit.config().qkNorm()).isTrue();
            assertThat(sit.stateDict()).containsKey("blocks.1.attn.k_norm.bias");
            NDArray x = io.read("x", m);
            NDArray y = io.read("y", m);
            assertThat(y.toLongArray()[0]).as("the fixture's first label is the null label").isEqualTo(sit.nullLabel());
            NDArray out = sit.forward(x, io.read("t", m), y);
            assertThat(out.getShape()).isEqualTo(x.getShape());
            assertThat(relativeError(out.toFloatArray(), io.read("out", m).toFloatArray())).isLessThan(1e-4);
        }
    }

    /**
     * The fixtures hold the true fixed tables, so a fresh model's must equal them. The 2D table must be exact: made
     * in float32 arithmetic (as the VMAE's copy of the function does) 120 of its 1,024 entries would be one ulp off.
     */
    @ParameterizedTest
    @ValueSource(strings = {"diffusion/sit-2d-qknorm", "diffusion/sit-1d-qknorm"})
    void aFreshModelHasTheFixturesPositionTableAndKeys(String folder) {
        Path dir = resource(folder);
        try (NDManager m = NDManager.newBaseManager(); SiT loaded = SiT.load(dir, m);
                SiT fresh = SiT.create(loaded.config(), m, 0)) {
            float[] ours = fresh.posEmbed.array().toFloatArray();
            float[] theirs = loaded.posEmbed.array().toFloatArray();
            if (loaded.config().vae1d()) {
                assertClose(ours, theirs, 1e-6f);
            } else {
                assertThat(ours).containsExactly(theirs);
            }
            assertThat(fresh.stateDict().keySet()).containsExactlyElementsOf(loaded.stateDict().keySet());
        }
    }

    @Test
    void theFixedPositionTableIsTheReferences() {
        // the fixture's pos_embed was re-drawn at random; the table comes from the reference's function (make_pos1d.py)
        try (NDManager m = NDManager.newBaseManager(); Safetensors ref = Safetensors.open(resource("diffusion/pos1d.safetensors"))) {
            assertClose(SiT.positionTable1d(64, 8), ref.read("small", m).toFloatArray(), 1e-6f);
            assertClose(SiT.positionTable1d(1152, 128), ref.read("xl", m).toFloatArray(), 2e-5f);
        }
    }

    private static void assertClose(float[] ours, float[] ref, float tol) {
        assertThat(ours).hasSameSizeAs(ref);
        for (int i = 0; i < ours.length; i++) {
            assertThat(ours[i]).as("entry %d", i).isCloseTo(ref[i], within(tol));
        }
    }

    @Test
    void configsAreCheckedFieldByField() throws Exception {
        ObjectMapper json = new ObjectMapper();
        var base = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(resource("fixtures/sit-small/config.json").toFile());
        assertThat(SiTConfig.fromJson(base, "c.json").labelRows()).isEqualTo(11);
        assertThat(SiTConfig.fromJson(base.deepCopy().put("qk_norm", true), "c.json").qkNorm()).isTrue();
        var planar = base.deepCopy().put("vae_1d", false).put("patch_size", 2).put("in_channels", 4);
        assertThat(SiTConfig.fromJson(planar, "c.json").tokens()).isEqualTo(16);
        assertThatThrownBy(() -> SiTConfig.fromJson(planar.deepCopy().put("input_size", 9), "c.json"))
                .hasMessageStartingWith("c.json: input_size 9 must be a multiple of patch_size 2");
        assertThatThrownBy(() -> SiTConfig.fromJson(planar.deepCopy().put("hidden_size", 66).put("decoder_hidden_size", 66), "c.json"))
                .hasMessageContaining("multiple of 4");
        assertThatThrownBy(() -> SiTConfig.fromJson(base.deepCopy().put("depthh", 3), "c.json")).hasMessageContaining("'depthh'");
        assertThatThrownBy(() -> SiTConfig.fromJson(base.deepCopy().put("num_heads", 3), "c.json")).hasMessageContaining("num_heads");
        assertThatThrownBy(() -> SiTConfig.fromJson(base.deepCopy().put("depth", "two"), "c.json")).hasMessageContaining("'depth'");
        try (NDManager m = NDManager.newBaseManager(); SiT fresh = SiT.create(SiTConfig.fromJson(base, "c.json"), m, 0)) {
            NDArray x = m.randomNormal(new ai.djl.ndarray.types.Shape(2, 8, 8));
            NDArray out = fresh.forward(x, m.create(new float[] {0.2f, 0.9f}), m.create(new long[] {3, 10}));
            // adaLN-Zero: a fresh model's output layer is zero, so it predicts zero velocity
            assertThat(out.abs().max().getFloat()).isEqualTo(0f);
            assertThat(fresh.stateDict().keySet()).containsAll(SiT.load(resource("fixtures/sit-small"), m).stateDict().keySet());
            assertThatThrownBy(() -> fresh.forward(x, m.create(new float[] {0.2f, 0.9f}), m.create(new long[] {3, 11})))
                    .hasMessageContaining("label 11");
        }
    }

    @Test
    void bothModesDescribeTheirLatents() {
        SiTConfig tokens = SiTConfig.preset("cpu", 128, 2, 32, 10, true);
        assertThat(tokens.tokens()).isEqualTo(128);
        assertThat(tokens.latentShape()).isEqualTo(new Shape(128, 32));
        assertThat(tokens.outputsPerToken()).as("the 1D mode ignores patch_size, as the reference").isEqualTo(32);
        SiTConfig spatial = SiTConfig.preset("S", 32, 2, 4, 1000, false);
        assertThat(spatial.tokens()).isEqualTo(256);
        assertThat(spatial.latentShape()).isEqualTo(new Shape(4, 32, 32));
        assertThat(spatial.outputsPerToken()).isEqualTo(16);
        for (SiTConfig c : new SiTConfig[] {tokens, spatial, planar(true)}) {
            assertThat(SiTConfig.fromJson(c.toJson(), "c.json")).isEqualTo(c);
        }
    }

    @Test
    void shapesAreCheckedForBothModes() {
        try (NDManager m = NDManager.newBaseManager(); SiT planar = SiT.create(planar(true), m, 1);
                SiT tokens = SiT.create(SiTConfig.preset("cpu", 8, 1, 8, 10, true), m, 1)) {
            NDArray t = m.create(new float[] {0.5f, 0.5f});
            NDArray y = m.create(new long[] {1, 2});
            assertThat(planar.forward(m.randomNormal(new Shape(2, 4, 8, 8)), t, y).getShape()).isEqualTo(new Shape(2, 4, 8, 8));
            for (Shape bad : new Shape[] {new Shape(2, 8, 8), new Shape(2, 3, 8, 8), new Shape(2, 4, 6, 6), new Shape(2, 4, 8, 6)}) {
                assertThatThrownBy(() -> planar.forward(m.zeros(bad), t, y))
                        .hasMessage("x must be [B, in_channels, input_size, input_size] (2D mode) = [B, 4, 8, 8], got " + bad);
            }
            assertThatThrownBy(() -> tokens.forward(m.zeros(new Shape(2, 8, 8, 1)), t, y))
                    .hasMessage("x must be [B, input_size, in_channels] (1D mode) = [B, 8, 8], got (2, 8, 8, 1)");
            assertThatThrownBy(() -> planar.forward(m.zeros(new Shape(3, 4, 8, 8)), t, y)).hasMessageContaining("one value per sample (3)");
        }
    }

    /** A fresh model draws its weights as the reference's initialize_weights does. */
    @Test
    void createInitialisesAsTheReference() {
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.create(planar(true), m, 3)) {
            Map<String, Parameter> sd = sit.stateDict();
            // xavier-uniform on the patch kernel seen as a Linear [64, 4·2·2]: bound sqrt(6 / (16 + 64))
            assertUniform(sd.get("x_embedder.proj.weight"), Math.sqrt(6.0 / (16 + 64)));
            assertUniform(sd.get("blocks.0.attn.qkv.weight"), Math.sqrt(6.0 / (64 + 192)));
            assertUniform(sd.get("blocks.1.mlp.fc2.weight"), Math.sqrt(6.0 / (128 + 64)));
            for (String zero : new String[] {"x_embedder.proj.bias", "blocks.0.attn.qkv.bias", "blocks.1.mlp.fc1.bias", "t_embedder.mlp.0.bias",
                    "blocks.0.adaLN_modulation.1.weight", "blocks.1.adaLN_modulation.1.bias", "final_layer.adaLN_modulation.1.weight",
                    "final_layer.linear.weight", "final_layer.linear.bias", "blocks.0.attn.q_norm.bias"}) {
                assertThat(maxAbs(sd.get(zero))).as(zero).isEqualTo(0f);
            }
            assertThat(sd.get("blocks.0.attn.k_norm.weight").array().toFloatArray()).containsOnly(1f);
            for (String normal : new String[] {"t_embedder.mlp.0.weight", "t_embedder.mlp.2.weight", "y_embedder.embedding_table.weight"}) {
                assertThat(std(sd.get(normal))).as(normal).isCloseTo(0.02, within(0.002));
            }
        }
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.create(SiTConfig.preset("cpu", 8, 1, 8, 10, true), m, 3)) {
            assertUniform(sit.stateDict().get("x_embedder.weight"), Math.sqrt(6.0 / (8 + 192)));
            assertThat(maxAbs(sit.stateDict().get("x_embedder.bias"))).isEqualTo(0f);
        }
    }

    @Test
    void aCreatedPlanarModelSurvivesSaveAndLoad(@TempDir Path dir) {
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.create(planar(true), m, 5)) {
            randomiseOutputLayer(sit, m);
            DiffusionCheckpoint.save(dir, sit, null);
            NDArray x = m.randomNormal(new Shape(2, 4, 8, 8));
            NDArray t = m.create(new float[] {0.3f, 0.8f});
            NDArray y = m.create(new long[] {4, 10});
            float[] before = sit.forward(x, t, y).toFloatArray();
            try (SiT back = SiT.load(dir, m)) {
                assertThat(back.config()).isEqualTo(sit.config());
                sit.stateDict().forEach((k, p) ->
                        assertThat(back.stateDict().get(k).array().toFloatArray()).as(k).containsExactly(p.array().toFloatArray()));
                assertThat(back.forward(x, t, y).toFloatArray()).containsExactly(before);
            }
            assertThat(maxAbs(before)).as("the model predicts something").isGreaterThan(0.01f);
        }
    }

    /** The samplers are shape-agnostic: a 2D model's [B, C, S, S] latents go through unchanged in shape. */
    @Test
    void samplersRunPlanarLatents() {
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.create(planar(false), m, 7)) {
            randomiseOutputLayer(sit, m);
            NDArray noise = m.randomNormal(new Shape(2).addAll(sit.config().latentShape()));
            NDArray labels = m.create(new long[] {1, 8});
            int[] steps = {0};
            NDArray guided = OdeSampler.sample(sit, noise, labels, 2, false, new Guidance(3, 0, 1), s -> steps[0] = s);
            assertThat(steps[0]).isEqualTo(2);
            assertThat(guided.getShape()).isEqualTo(new Shape(2, 4, 8, 8));
            assertThat(guided.getDataType()).isEqualTo(DataType.FLOAT64);
            NDArray plain = OdeSampler.sample(sit, noise, labels, 2, false, Guidance.none(), s -> {});
            float[] g = guided.toType(DataType.FLOAT32, false).toFloatArray();
            assertThat(relativeError(g, plain.toType(DataType.FLOAT32, false).toFloatArray())).as("guidance acts").isGreaterThan(1e-4);
            assertThat(relativeError(g, noise.toFloatArray())).as("the model moves the noise").isGreaterThan(1e-3);
            NDArray sde = SdeSampler.sample(sit, noise, labels, 2, new Guidance(3, 0, 1), PathType.LINEAR, 0, s -> {});
            assertThat(sde.getShape()).isEqualTo(new Shape(2, 4, 8, 8));
        }
    }

    /** input 8, patch 2, 4 channels, width 64, 2 blocks of 2 heads, 10 classes (the null label 10). */
    private static SiTConfig planar(boolean qkNorm) {
        return new SiTConfig(8, 2, 4, 64, 2, 2, 2.0, 0.1, 10, 64, qkNorm, false);
    }

    /** A fresh model predicts zero (adaLN-Zero); random output weights make its predictions depend on everything. */
    private static void randomiseOutputLayer(SiT sit, NDManager m) {
        SplittableRandom rng = new SplittableRandom(9);
        for (String key : new String[] {"final_layer.linear.weight", "final_layer.adaLN_modulation.1.weight"}) {
            Parameter p = sit.stateDict().get(key);
            float[] v = new float[Math.toIntExact(p.numel())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rng.nextGaussian() * 0.1);
            }
            p.set(OwnedArrays.of(m, v, p.shape()));
        }
    }

    private static void assertUniform(Parameter p, double bound) {
        float[] v = p.array().toFloatArray();
        assertThat(maxAbs(v)).isLessThanOrEqualTo((float) bound).isGreaterThan((float) (0.95 * bound));
        // U(−a, a) has standard deviation a/√3
        assertThat(std(p)).isCloseTo(bound / Math.sqrt(3), within(0.05 * bound));
    }

    private static float maxAbs(Parameter p) {
        return maxAbs(p.array().toFloatArray());
    }

    private static float maxAbs(float[] v) {
        float max = 0;
        for (float e : v) {
            max = Math.max(max, Math.abs(e));
        }
        return max;
    }

    private static double std(Parameter p) {
        double sum = 0;
        double squares = 0;
        float[] v = p.array().toFloatArray();
        for (float e : v) {
            sum += e;
            squares += (double) e * e;
        }
        double mean = sum / v.length;
        return Math.sqrt(squares / v.length - mean * mean);
    }

    @Test
    void theEulerSamplerMatchesTheReferenceWithAndWithoutGuidance() {
        Path dir = resource("fixtures/sit-sampler");
        try (NDManager m = NDManager.newBaseManager(); SiT sit = SiT.load(dir, m);
                Safetensors io = Safetensors.open(dir.resolve("io.safetensors"))) {
            NDArray noise = io.read("noise", m);
            NDArray labels = io.read("labels", m);
            int[] steps = {0};
            NDArray plain = OdeSampler.sample(sit, noise, labels, 5, false, Guidance.none(), s -> steps[0] = s);
            assertThat(steps[0]).isEqualTo(5);
            assertThat(relativeError(plain.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray(),
                    io.read("samples_plain", m).toFloatArray())).isLessThan(1e-4);
            NDArray cfg = OdeSampler.sample(sit, noise, labels, 5, false, new Guidance(2.5, 0, 0.7), s -> {});
            float[] guided = cfg.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
            assertThat(relativeError(guided, io.read("samples_cfg", m).toFloatArray())).isLessThan(1e-4);
            assertThat(relativeError(guided, io.read("samples_plain", m).toFloatArray())).as("guidance changes the samples").isGreaterThan(1e-3);
        }
    }
}
