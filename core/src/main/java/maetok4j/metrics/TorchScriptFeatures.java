package maetok4j.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import maetok4j.nn.TorchScriptNetwork;

import java.nio.file.Path;

/**
 * A feature network exported with {@code torch.jit.trace}/{@code torch.jit.save}, run by libtorch in the same
 * process as the rest of maetok4j: frozen, eval mode, no autograd graph. This is the route for networks whose
 * operators ONNX lacks, and it keeps the images on DJL arrays from the decoder to the network.
 */
public final class TorchScriptFeatures implements SpecifiedFeatureNetwork {

    private final TorchScriptNetwork network;
    private final FeatureNetworkSpec spec;

    private TorchScriptFeatures(TorchScriptNetwork network, FeatureNetworkSpec spec) {
        this.network = network;
        this.spec = spec;
    }

    /** @throws maetok4j.tensor.TensorFileException naming the file if libtorch cannot load it */
    public static TorchScriptFeatures load(Path file, FeatureNetworkSpec spec) {
        return new TorchScriptFeatures(TorchScriptNetwork.load(file), spec);
    }

    @Override
    public FeatureNetworkSpec spec() {
        return spec;
    }

    @Override
    public Activations extract(NDArray images) {
        int batch = Math.toIntExact(images.getShape().get(0));
        if (batch == 0) {
            return none();
        }
        // everything made here, the network's unused outputs included, lives in the scope and is released with it
        try (NDManager scope = images.getManager().newSubManager()) {
            NDArray x = images.stopGradient(); // [B, 3, H, W]; no graph back to the caller's images
            x.attach(scope);
            NDList out = network.infer(spec.input().apply(x)); // outputs in x's manager: the scope
            spec.checkOutputCount(network.file(), out.size());
            float[] features = rows(out, spec.featuresOutput(), "features", batch, spec.dim()); // [B, D]
            float[] logits = spec.hasLogits() ? rows(out, spec.logitsOutput(), "logits", batch, spec.classes()) : null; // [B, K]
            return new Activations(batch, spec.dim(), features, logits);
        }
    }

    private float[] rows(NDList out, int index, String role, int batch, int width) {
        NDArray a = out.get(index);
        spec.checkOutput(network.file(), role, index, a.getShape().getShape(), batch, width);
        return a.toType(DataType.FLOAT32, false).toFloatArray();
    }

    @Override
    public void close() {
        network.close();
    }

    @Override
    public String toString() {
        return "TorchScriptFeatures(" + network.file() + ", " + spec.name() + ")";
    }
}
