package maetok4j.metrics;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.NetworkInput;
import maetok4j.tensor.Engines;
import maetok4j.tensor.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static maetok4j.TestFiles.relativeError;
import static maetok4j.TestFiles.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The network is {@code metrics/feature-net.pt} and {@code .onnx} (make_feature_net.py): a small random conv net
 * returning (features [B, 64, 1, 1], logits [B, 10]), with a sidecar that normalises with ImageNet's mean/std and
 * resizes to 32. Torch's values were computed in float64 from the same [5, 3, 40, 40] images; Java's agree to a
 * relative error ‖java − torch‖ / ‖torch‖ below 1e-5 over each whole output.
 */
class FeatureNetworksTest {

    static {
        Engines.configure();
    }

    static final Path PT = resource("metrics/feature-net.pt");
    static final Path ONNX = resource("metrics/feature-net.onnx");
    static final Path REFERENCE = resource("metrics/feature-net.safetensors");
    static final String SIDECAR = """
            {"kind": "features", "input": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, "image_size": 32,
             "logits_output": 1, "dim": 64, "classes": 10%s}""";

    @Test
    void sidecarIsRead() {
        FeatureNetworkSpec spec = FeatureNetworkSpec.forNetwork(PT);
        assertThat(spec).isEqualTo(new FeatureNetworkSpec("tiny random conv net (make_feature_net.py)", false,
                NetworkInput.imagenet(32), 0, 1, 64, 10));
        assertThat(spec.hasLogits()).isTrue();
    }

    @Test
    void torchScriptMatchesTorch() {
        try (FeatureNetwork net = FeatureNetworks.load(PT)) {
            assertThat(net).isInstanceOf(TorchScriptFeatures.class);
            matchesTorch(net, 5, 1);
        }
    }

    @Test
    void onnxMatchesTorchAtAnyBatchSize() {
        try (FeatureNetwork net = FeatureNetworks.load(ONNX)) {
            assertThat(net).isInstanceOf(OnnxFeatures.class);
            matchesTorch(net, 5, 1, 3, 2); // the model was exported with a dynamic batch axis (traced at 2)
        }
    }

    private static void matchesTorch(FeatureNetwork net, int... batches) {
        assertThat(net.name()).isEqualTo("tiny random conv net (make_feature_net.py)");
        assertThat(net.isFidInception()).isFalse();
        assertThat(net.featureDim()).isEqualTo(64);
        assertThat(net.classes()).isEqualTo(10);
        try (NDManager m = NDManager.newBaseManager(); Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray images = ref.read("images", m); // [5, 3, 40, 40]
            float[] features = ref.read("features", m).toFloatArray(); // [5, 64]
            float[] logits = ref.read("logits", m).toFloatArray(); // [5, 10]
            for (int b : batches) {
                FeatureNetwork.Activations a = net.extract(images.get(new NDIndex("0:{}", b)));
                assertThat(a.batch()).isEqualTo(b);
                assertThat(a.featureDim()).isEqualTo(64);
                assertThat(a.classes()).isEqualTo(10);
                assertThat(relativeError(a.features(), Arrays.copyOf(features, b * 64))).as("features, batch %d", b).isLessThan(1e-5);
                assertThat(relativeError(a.logits(), Arrays.copyOf(logits, b * 10))).as("logits, batch %d", b).isLessThan(1e-5);
            }
            FeatureNetwork.Activations empty = net.extract(m.zeros(new Shape(0, 3, 40, 40)));
            assertThat(empty.batch()).isZero();
            assertThat(empty.features()).isEmpty();
        }
    }

    @Test
    void aNetworkWithoutLogitsReturnsNone(@TempDir Path tmp) throws IOException {
        Path onnx = copy(ONNX, tmp.resolve("no-logits.onnx"));
        Path pt = copy(PT, tmp.resolve("no-logits.pt"));
        Files.writeString(tmp.resolve("no-logits.json"), """
                {"kind": "features", "input": {"shift": [0, 0, 0], "scale": [1, 1, 1]}, "image_size": 32, "dim": 64}""");
        try (NDManager m = NDManager.newBaseManager(); FeatureNetwork a = FeatureNetworks.load(onnx); FeatureNetwork b = FeatureNetworks.load(pt)) {
            for (FeatureNetwork net : List.of(a, b)) {
                assertThat(net.name()).isEqualTo(net == a ? "no-logits.onnx" : "no-logits.pt"); // the default name
                assertThat(net.classes()).isZero();
                FeatureNetwork.Activations act = net.extract(m.zeros(new Shape(2, 3, 32, 32)));
                assertThat(act.logits()).isNull();
                assertThat(act.features()).hasSize(2 * 64);
            }
        }
    }

    @Test
    void nativeArrayCountStaysFlatAcrossExtracts() {
        try (NDManager root = NDManager.newBaseManager(); FeatureNetwork net = FeatureNetworks.load(PT);
                Safetensors ref = Safetensors.open(REFERENCE)) {
            NDArray images = ref.read("images", root);
            List<Integer> counts = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                net.extract(images);
                counts.add(((BaseNDManager) root).getManagedArrays().size());
            }
            assertThat(counts).containsOnly(1); // the images: everything extract made was released
        }
    }

    @Test
    void sidecarProblemsAreOneLineNamingTheFileAndField(@TempDir Path tmp) throws IOException {
        Path pt = copy(PT, tmp.resolve("net.pt"));
        Path json = tmp.resolve("net.json");
        assertThatThrownBy(() -> FeatureNetworks.load(pt))
                .hasMessage(json + ": no such file (the JSON that describes the network)");

        Files.writeString(json, SIDECAR.formatted(", \"dims\": 64"));
        assertThatThrownBy(() -> FeatureNetworks.load(pt)).hasMessageStartingWith(json + ": 'dims' is not a known field (known: ");

        Files.writeString(json, SIDECAR.formatted("").replace(", \"classes\": 10", ""));
        assertThatThrownBy(() -> FeatureNetworks.load(pt)).hasMessage(json + ": 'classes' is required (an integer >= 1)");

        Files.writeString(json, SIDECAR.formatted("").replace("\"logits_output\": 1, ", ""));
        assertThatThrownBy(() -> FeatureNetworks.load(pt))
                .hasMessage(json + ": 'classes' needs logits_output (which output holds the logits)");

        Files.writeString(json, SIDECAR.formatted(", \"features_output\": 1"));
        assertThatThrownBy(() -> FeatureNetworks.load(pt)).hasMessage(json + ": 'logits_output' must differ from features_output (1)");

        Files.writeString(json, SIDECAR.formatted(", \"fid_inception\": \"yes\""));
        assertThatThrownBy(() -> FeatureNetworks.load(pt)).hasMessage(json + ": 'fid_inception' must be true or false, got \"yes\"");

        Files.writeString(json, SIDECAR.formatted("").replace("\"kind\": \"features\"", "\"kind\": \"teacher\""));
        assertThatThrownBy(() -> FeatureNetworks.load(pt)).hasMessage(json + ": 'kind' must be \"features\", got \"teacher\"");
    }

    @Test
    void outputsThatDisagreeWithTheSidecarNameTheNetworkFile(@TempDir Path tmp) throws IOException {
        for (String ext : List.of("pt", "onnx")) {
            Path net = copy(ext.equals("pt") ? PT : ONNX, tmp.resolve("net." + ext));
            Path json = tmp.resolve("net.json");
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray images = m.zeros(new Shape(2, 3, 32, 32));
                Files.writeString(json, SIDECAR.replace("\"dim\": 64", "\"dim\": 2048").formatted(""));
                try (FeatureNetwork f = FeatureNetworks.load(net)) {
                    assertThatThrownBy(() -> f.extract(images)).hasMessage(net
                            + ": output 0 (features) is (2, 64, 1, 1), expected (2, 2048) or (2, 2048, 1, 1) as the sidecar's 'dim' says");
                }
                Files.writeString(json, SIDECAR.formatted("").replace("\"classes\": 10", "\"classes\": 1008"));
                try (FeatureNetwork f = FeatureNetworks.load(net)) {
                    assertThatThrownBy(() -> f.extract(images)).hasMessage(net
                            + ": output 1 (logits) is (2, 10), expected (2, 1008) or (2, 1008, 1, 1) as the sidecar's 'classes' says");
                }
                Files.writeString(json, SIDECAR.formatted("").replace("\"logits_output\": 1", "\"logits_output\": 2"));
                if (ext.equals("onnx")) { // ONNX declares its outputs: checked when loading
                    assertThatThrownBy(() -> FeatureNetworks.load(net))
                            .hasMessage(net + ": the sidecar's 'logits_output' is 2 but the network returns 2 output(s)");
                } else {
                    try (FeatureNetwork f = FeatureNetworks.load(net)) {
                        assertThatThrownBy(() -> f.extract(images))
                                .hasMessage(net + ": the sidecar's 'logits_output' is 2 but the network returns 2 output(s)");
                    }
                }
                assertThat(((BaseNDManager) m).getManagedArrays()).hasSize(1); // failures released their arrays too
            }
        }
    }

    @Test
    void onnxInputsAreCheckedAgainstTheSidecar(@TempDir Path tmp) throws IOException {
        Path onnx = copy(ONNX, tmp.resolve("net.onnx"));
        Path json = tmp.resolve("net.json");
        Files.writeString(json, SIDECAR.replace("\"image_size\": 32", "\"image_size\": 299").formatted(""));
        assertThatThrownBy(() -> FeatureNetworks.load(onnx))
                .hasMessage(onnx + ": input 'images' is fixed at 32x32 but the sidecar's 'image_size' is 299");
        Files.writeString(json, SIDECAR.replace("\"image_size\": 32", "\"image_size\": 0").formatted(""));
        try (NDManager m = NDManager.newBaseManager(); FeatureNetwork net = FeatureNetworks.load(onnx)) {
            assertThatThrownBy(() -> net.extract(m.zeros(new Shape(2, 3, 40, 40))))
                    .hasMessage(onnx + ": the model takes 32x32 images, got 40x40 (set 'image_size' in the sidecar to resize them)");
        }
    }

    @Test
    void missingFilesAndDirectoriesAreNamed(@TempDir Path tmp) throws IOException {
        Path missing = tmp.resolve("nope.onnx");
        assertThatThrownBy(() -> FeatureNetworks.load(missing))
                .hasMessage(missing + ": no such feature network (a .pt or .onnx file with a .json beside it)");
        assertThatThrownBy(() -> FeatureNetworks.load(tmp))
                .hasMessage(tmp + ": a directory without config.json; feature networks are a .pt/.onnx file with a .json beside it,"
                        + " or a folder from 'maetok eval train-features'");
        Path corrupt = tmp.resolve("corrupt.onnx");
        Files.writeString(corrupt, "not a protobuf");
        Files.writeString(tmp.resolve("corrupt.json"), SIDECAR.formatted(""));
        assertThatThrownBy(() -> FeatureNetworks.load(corrupt))
                .hasMessageStartingWith(corrupt + ": not an ONNX model ONNX Runtime can load (")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    private static Path copy(Path from, Path to) throws IOException {
        return Files.copy(from, to);
    }
}
