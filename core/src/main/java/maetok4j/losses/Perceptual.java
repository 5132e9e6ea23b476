package maetok4j.losses;

import maetok4j.nn.NetworkInput;
import maetok4j.nn.Sidecar;
import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.FrozenNetwork;
import maetok4j.nn.TorchScriptNetwork;
import maetok4j.tensor.Safetensors;
import maetok4j.tensor.TensorFileException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * LPIPS-style perceptual loss on a frozen feature network (e.g. LPIPS-VGG16 exported to TorchScript, returning
 * the five relu maps relu1_2…relu5_3). For images x, x̂ in [-1, 1], with feature maps f_i of each:
 * <pre>
 *   n(f)   = f / (sqrt(Σ_c f²) + 1e-10)                      unit length over channels (LPIPS's normalize_tensor)
 *   d_i    = (n(f_i(x)) − n(f_i(x̂)))²                        [B, C_i, h_i, w_i]
 *   L_i    = layer_weight_i · mean_hw( Σ_c w_ic · d_ic )     w_i: the 1×1 "lin" conv (no bias), or all ones
 *   loss   = mean_batch( Σ_i L_i )
 * </pre>
 * With lin weights and unit layer weights this is LPIPS ({@code lins[i].model(diff)} then {@code spatial_average},
 * summed over layers) followed by the {@code torch.mean} MAETok's {@code VQLoss} applies. Without lin weights each
 * layer is the plain channel sum of squared differences of unit features, times its scalar weight.
 *
 * <p>One difference from LPIPS at a single point: where a feature vector is exactly zero over all channels,
 * {@code sqrt} has an infinite derivative and LPIPS's gradient becomes NaN; here the norm's derivative there is
 * taken as 0, leaving the finite (if huge, 1/1e-10) derivative of {@code x / (‖x‖ + 1e-10)}. Values are identical.
 *
 * <p>Both images go through the network as one batch of 2B. The loss owns the network and the lin weights.
 */
public final class Perceptual implements AutoCloseable {

    static final float NORM_EPS = 1e-10f;

    /**
     * @param input how [-1, 1] images become network input (shift/scale or mean/std, optional resize)
     * @param layerWeights one scalar per feature map, or empty for all ones
     * @param linWeights a safetensors file with {@code lin{i}.model.1.weight} [1, C_i, 1, 1], or null
     */
    public record Config(NetworkInput input, double[] layerWeights, Path linWeights) {

        public Config {
            if (input == null) {
                throw new IllegalArgumentException("input normalisation is required");
            }
            layerWeights = layerWeights == null ? new double[0] : layerWeights.clone();
            for (double w : layerWeights) {
                if (!Double.isFinite(w) || w < 0) {
                    throw new IllegalArgumentException("layer weights must be finite and non-negative, got " + Arrays.toString(layerWeights));
                }
            }
        }

        @Override
        public double[] layerWeights() {
            return layerWeights.clone();
        }

        /**
         * Reads a sidecar {@code {"kind": "perceptual", "input": {...}, "resize": int?, "layer_weights": [..]?,
         * "lin_weights": "file.safetensors"?}}; the lin-weights path is relative to the JSON's folder.
         */
        public static Config fromJson(Path json) {
            Sidecar s = Sidecar.read(json, "perceptual", "input", "resize", "layer_weights", "lin_weights");
            int resize = s.integer("resize", 0, 1);
            NetworkInput input = NetworkInput.fromJson(s, "input", s.root.path("input"), resize);
            double[] weights = s.root.has("layer_weights") ? s.numbers("layer_weights", s.root.get("layer_weights"), -1) : new double[0];
            for (double w : weights) {
                if (w < 0) {
                    throw s.error("layer_weights", "must not be negative, got " + Arrays.toString(weights));
                }
            }
            String lin = s.text("lin_weights");
            return new Config(input, weights, lin == null ? null : json.toAbsolutePath().resolveSibling(lin));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Config c && input.equals(c.input) && Arrays.equals(layerWeights, c.layerWeights)
                    && java.util.Objects.equals(linWeights, c.linWeights);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(input, Arrays.hashCode(layerWeights), linWeights);
        }

        @Override
        public String toString() {
            return "Perceptual.Config[input=" + input + ", layerWeights=" + Arrays.toString(layerWeights) + ", linWeights=" + linWeights + "]";
        }
    }

    private final FrozenNetwork network;
    private final Config config;
    private final String source;
    private final NDManager weights;
    private final List<NDArray> lins; // [1, C_i, 1, 1] each; empty without lin weights

    /**
     * Takes ownership of {@code network}.
     *
     * @param source what to name in error messages (the sidecar or the network file)
     */
    public Perceptual(FrozenNetwork network, Config config, String source) {
        this.network = network;
        this.config = config;
        this.source = source;
        this.weights = NDManager.newBaseManager();
        this.lins = new ArrayList<>();
        try {
            if (config.linWeights() != null) {
                loadLins(config.linWeights());
            }
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private void loadLins(Path file) {
        try (Safetensors st = Safetensors.open(file)) {
            for (int i = 0; st.contains(linKey(i)); i++) {
                NDArray w = st.readAs(linKey(i), weights, DataType.FLOAT32);
                Shape s = w.getShape();
                if (s.dimension() != 4 || s.get(0) != 1 || s.get(2) != 1 || s.get(3) != 1) {
                    throw new TensorFileException(file + ": '" + linKey(i) + "' must be [1, C, 1, 1], got " + s);
                }
                lins.add(w);
            }
        }
        if (lins.isEmpty()) {
            throw new TensorFileException(file + ": no lin weights (expected lin0.model.1.weight, lin1.model.1.weight, ...)");
        }
        if (config.layerWeights.length > 0 && config.layerWeights.length != lins.size()) {
            throw new IllegalArgumentException(source + ": layer_weights has " + config.layerWeights.length + " entries but "
                    + file.getFileName() + " has " + lins.size() + " lin layers");
        }
    }

    static String linKey(int layer) {
        return "lin" + layer + ".model.1.weight";
    }

    /** Loads {@code NAME.pt} with its sidecar {@code NAME.json}. */
    public static Perceptual load(Path network) {
        Path json = Sidecar.besides(network);
        return load(network, Config.fromJson(json), json.toString());
    }

    public static Perceptual load(Path network, Config config) {
        return load(network, config, network.toString());
    }

    private static Perceptual load(Path network, Config config, String source) {
        TorchScriptNetwork net = TorchScriptNetwork.load(network);
        try {
            return new Perceptual(net, config, source);
        } catch (RuntimeException e) {
            net.close();
            throw e;
        }
    }

    public Config config() {
        return config;
    }

    /**
     * target, reconstruction [B, 3, H, W] in [-1, 1] → scalar; gradients flow to whichever input requires them
     * (the reconstruction, in training). Arrays made here belong to the reconstruction's manager, which in
     * training is the step's scope even when the target batch lives longer.
     */
    public NDArray loss(NDArray target, NDArray reconstruction) {
        Shape s = target.getShape();
        if (!s.equals(reconstruction.getShape())) {
            throw new IllegalArgumentException("target " + s + " and reconstruction " + reconstruction.getShape() + " differ in shape");
        }
        long b = s.get(0);
        NDList features = network.forward(config.input().apply(NDArrays.concat(new NDList(reconstruction, target), 0))); // [2B, 3, H', W']
        int layers = lins.isEmpty() ? (config.layerWeights.length == 0 ? features.size() : config.layerWeights.length) : lins.size();
        if (features.size() != layers) {
            throw new IllegalArgumentException(source + ": the network returns " + features.size() + " feature maps but "
                    + (lins.isEmpty() ? "layer_weights has " : "lin_weights has ") + layers);
        }
        NDArray total = null;
        for (int i = 0; i < layers; i++) {
            NDArray f = features.get(i);
            Shape fs = f.getShape();
            if (fs.dimension() != 4 || fs.get(0) != 2 * b) {
                throw new IllegalArgumentException(source + ": feature map " + i + " is " + fs + ", expected [" + 2 * b + ", C, h, w]");
            }
            NDArray lin = lins.isEmpty() ? null : lins.get(i);
            if (lin != null && lin.getShape().get(1) != fs.get(1)) {
                throw new IllegalArgumentException(source + ": feature map " + i + " has " + fs.get(1) + " channels but "
                        + linKey(i) + " has " + lin.getShape().get(1));
            }
            double w = config.layerWeights.length == 0 ? 1 : config.layerWeights[i];
            NDArray layer = layerDistance(f.get(new NDIndex("0:{}", b)), f.get(new NDIndex("{}:", b)), lin, w); // [B]
            total = total == null ? layer : total.add(layer);
        }
        return total.mean();
    }

    /** f0, f1 [B, C, h, w], lin [1, C, 1, 1] or null → [B]: {@code weight · mean_hw Σ_c lin_c (n(f0) − n(f1))²_c}. */
    static NDArray layerDistance(NDArray f0, NDArray f1, NDArray lin, double weight) {
        NDArray d = unitChannels(f0).sub(unitChannels(f1)).square(); // [B, C, h, w]
        NDArray perPixel = (lin == null ? d : d.mul(lin)).sum(new int[] {1}); // [B, h, w]
        NDArray perSample = perPixel.reshape(perPixel.getShape().get(0), -1).mean(new int[] {1}); // [B]; mean over one axis only
        return weight == 1 ? perSample : OwnedArrays.mul(perSample, weight);
    }

    /** x / (‖x‖₂ over channels + 1e-10); norm() rather than sqrt(sum(x²)) so an all-zero vector gets a finite gradient, not NaN. */
    static NDArray unitChannels(NDArray x) {
        return x.div(x.norm(new int[] {1}, true).add(NORM_EPS));
    }

    @Override
    public void close() {
        try {
            network.close();
        } finally {
            weights.close();
        }
    }
}
