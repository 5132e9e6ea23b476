package maetok4j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
import java.util.SplittableRandom;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The test network is {@code torchscript/features.pt} (make_networks.py): 3 conv+relu stages, a dropout, saved in training mode. */
class TorchScriptNetworkTest {

    static {
        Engines.configure();
    }

    static final Path FEATURES = resource("torchscript/features.pt");
    static final Path REFERENCE = resource("torchscript/reference.safetensors");

    static float[] uniform(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    @Test
    void tupleOutputsMatchTorchInEvalMode() {
        try (NDManager m = NDManager.newBaseManager(); TorchScriptNetwork net = TorchScriptNetwork.load(FEATURES);
                Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray x = ref.read("perceptual.real", m);
            x.setName("perceptual.real"); // a dotted name would make DJL build a dict input; the network must not care
            NDList out = net.forward(x);
            assertThat(out).hasSize(3);
            for (int i = 0; i < 3; i++) {
                NDArray expected = ref.read("features.out" + i, m);
                assertThat(out.get(i).getShape()).isEqualTo(expected.getShape());
                // the file was saved in training mode: with its dropout active the outputs would not match
                assertThat(relativeError(out.get(i), expected)).isLessThan(1e-5);
                assertThat(out.get(i).getManager()).isSameAs(m);
            }
            NDList again = net.infer(x);
            assertThat(relativeError(again.get(2), out.get(2))).isZero();
        }
    }

    @Test
    void weightsAreFrozenButGradientsReachTheInput() {
        try (NDManager m = NDManager.newBaseManager(); TorchScriptNetwork net = TorchScriptNetwork.load(FEATURES)) {
            assertThat(net.parameterCount()).isEqualTo(6); // 3 convs × (weight, bias)
            // torch.jit.save keeps requires_grad=True on parameters; loading must have switched it off
            assertThat(net.anyParameterRequiresGradient()).isFalse();
            NDArray x = m.create(uniform(2 * 3 * 16 * 16, 1), new Shape(2, 3, 16, 16));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDList out = net.forward(x);
                gc.backward(out.get(0).sum().add(out.get(2).square().sum()));
            }
            float[] g = x.getGradient().toFloatArray();
            double norm = 0;
            for (float v : g) {
                assertThat(Float.isFinite(v)).isTrue();
                norm += v * v;
            }
            assertThat(norm).isGreaterThan(0);
            assertThat(net.anyParameterRequiresGradient()).isFalse();
        }
    }

    @Test
    void inferRecordsNoGraph() {
        try (NDManager m = NDManager.newBaseManager(); TorchScriptNetwork net = TorchScriptNetwork.load(FEATURES)) {
            NDArray x = m.create(uniform(3 * 8 * 8, 2), new Shape(1, 3, 8, 8));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = net.infer(x).get(1).sum();
                // nothing to differentiate: torch refuses backward through a tensor without a graph
                assertThatThrownBy(() -> gc.backward(y)).hasMessageContaining("does not require grad");
            }
        }
    }

    @Test
    void noNativeArraysLeakAcrossScopedSteps() {
        try (NDManager root = NDManager.newBaseManager(); TorchScriptNetwork net = TorchScriptNetwork.load(FEATURES)) {
            float[] pixels = uniform(2 * 3 * 16 * 16, 3);
            List<Integer> counts = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                try (NDManager step = root.newSubManager()) {
                    NDArray x = step.create(pixels, new Shape(2, 3, 16, 16));
                    x.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDList out = net.forward(x);
                        gc.backward(out.get(0).mean().add(out.get(1).mean()).add(out.get(2).mean()));
                    }
                    try (NDArray g = x.getGradient()) {
                        assertThat(g.getShape()).isEqualTo(x.getShape());
                    }
                }
                counts.add(((BaseNDManager) root).getManagedArrays().size() + net.ownArrays());
            }
            assertThat(counts).containsOnly(counts.get(0));
            assertThat(counts.get(0)).isZero();
        }
    }

    @Test
    void missingAndCorruptFilesAreNamed(@TempDir Path tmp) throws IOException {
        Path missing = tmp.resolve("nope.pt");
        assertThatThrownBy(() -> TorchScriptNetwork.load(missing)).isInstanceOf(TensorFileException.class)
                .hasMessage(missing + ": no such TorchScript file");
        Path corrupt = tmp.resolve("corrupt.pt");
        Files.write(corrupt, "this is not a zip archive".getBytes());
        assertThatThrownBy(() -> TorchScriptNetwork.load(corrupt)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(corrupt + ": not a TorchScript file libtorch can load (")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        Path truncated = tmp.resolve("truncated.pt");
        byte[] full = Files.readAllBytes(FEATURES);
        Files.write(truncated, java.util.Arrays.copyOf(full, full.length / 2));
        assertThatThrownBy(() -> TorchScriptNetwork.load(truncated)).isInstanceOf(TensorFileException.class)
                .hasMessageStartingWith(truncated + ": not a TorchScript file");
    }
}
