package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SiTTest {

    static {
        Engines.configure();
    }

    static double relativeError(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (double) (a[i] - b[i]);
            den += b[i] * (double) b[i];
        }
        return Math.sqrt(num / den);
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
        assertThatThrownBy(() -> SiTConfig.fromJson(base.deepCopy().put("qk_norm", true), "c.json"))
                .hasMessageStartingWith("c.json: qk_norm");
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
