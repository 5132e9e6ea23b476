package maetok4j.losses;

import maetok4j.nn.NetworkInput;
import maetok4j.nn.Sidecar;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.FrozenNetwork;
import maetok4j.nn.TorchScriptNetwork;

import java.nio.file.Path;

/**
 * Per-token targets from a frozen teacher for MAETok's auxiliary decoders (spec §1.8): DINOv2 or SigLIP
 * exported to TorchScript so that its patch grid equals the tokenizer's token grid, fed images re-normalised
 * from [-1, 1] to the teacher's mean/std, returning {@code forward_features} (after the final LayerNorm); the
 * prefix tokens (CLS, registers) are dropped from the front of the sequence.
 *
 * <p>The loss owns the network.
 */
public final class TeacherFeatures implements AutoCloseable {

    /** {@code F.normalize}'s default: vectors are divided by {@code max(‖v‖, eps)}. */
    static final double NORMALIZE_EPS = 1e-12;

    /**
     * @param input how [-1, 1] images become teacher input; its size is the teacher's image size (0: as given)
     * @param prefixTokens tokens dropped from the front of the output sequence (1 for a CLS token, +registers)
     * @param outputIndex which output of a tuple-returning network holds the token features
     * @param dim feature width D, checked against the output
     */
    public record Config(NetworkInput input, int prefixTokens, int outputIndex, int dim) {

        public Config {
            if (input == null) {
                throw new IllegalArgumentException("input normalisation is required");
            }
            if (prefixTokens < 0 || outputIndex < 0 || dim <= 0) {
                throw new IllegalArgumentException("need prefix_tokens >= 0, output_index >= 0 and dim > 0, got "
                        + prefixTokens + ", " + outputIndex + ", " + dim);
            }
        }

        /**
         * Reads a sidecar {@code {"kind": "teacher", "input": {"mean": [..], "std": [..]}, "image_size": int?,
         * "prefix_tokens": int, "output_index": int?, "dim": int}}.
         */
        public static Config fromJson(Path json) {
            Sidecar s = Sidecar.read(json, "teacher", "input", "image_size", "prefix_tokens", "output_index", "dim");
            int size = s.integer("image_size", 0, 1);
            NetworkInput input = NetworkInput.fromJson(s, "input", s.root.path("input"), size);
            return new Config(input, s.requiredInteger("prefix_tokens", 0), s.integer("output_index", 0, 0), s.requiredInteger("dim", 1));
        }
    }

    private final FrozenNetwork network;
    private final Config config;
    private final String source;

    /**
     * Takes ownership of {@code network}.
     *
     * @param source what to name in error messages (the sidecar or the network file)
     */
    public TeacherFeatures(FrozenNetwork network, Config config, String source) {
        this.network = network;
        this.config = config;
        this.source = source;
    }

    /** Loads {@code NAME.pt} with its sidecar {@code NAME.json}. */
    public static TeacherFeatures load(Path network) {
        Path json = Sidecar.besides(network);
        Config config = Config.fromJson(json);
        return new TeacherFeatures(TorchScriptNetwork.load(network), config, json.toString());
    }

    /** The sidecar config of {@code NAME.pt} without loading the network (the trainer sizes the auxiliary head from it). */
    public static Config configOf(Path network) {
        return Config.fromJson(Sidecar.besides(network));
    }

    public static TeacherFeatures load(Path network, Config config) {
        return new TeacherFeatures(TorchScriptNetwork.load(network), config, network.toString());
    }

    public Config config() {
        return config;
    }

    /**
     * images [B, 3, H, W] in [-1, 1] → targets [B, N, D] without gradient, in the images' manager. The teacher's
     * intermediates and unused outputs are released before returning.
     */
    public NDArray targets(NDArray images) {
        NDManager owner = images.getManager();
        long b = images.getShape().get(0);
        try (NDManager scope = owner.newSubManager()) {
            // a detached input and frozen weights: no autograd graph is recorded
            NDArray x = images.stopGradient();
            x.attach(scope);
            NDList out = network.forward(config.input().apply(x));
            if (out.size() <= config.outputIndex()) {
                throw new IllegalArgumentException(source + ": output_index " + config.outputIndex() + " but the network returns "
                        + out.size() + " output(s)");
            }
            NDArray tokens = out.get(config.outputIndex());
            Shape s = tokens.getShape();
            if (s.dimension() != 3 || s.get(0) != b || s.get(1) <= config.prefixTokens() || s.get(2) != config.dim()) {
                throw new IllegalArgumentException(source + ": the network's output " + config.outputIndex() + " is " + s
                        + ", expected [B=" + b + ", N+" + config.prefixTokens() + " prefix tokens, dim=" + config.dim() + "]");
            }
            NDArray targets = tokens.get(new NDIndex(":, {}:, :", config.prefixTokens())).stopGradient(); // [B, N, D]
            targets.attach(owner);
            return targets;
        }
    }

    /**
     * MAETok's auxiliary feature loss (the {@code aux_loss_mask=True} branch of {@code MaskAEModel.forward}):
     * with p̂ = pred/max(‖pred‖, 1e-12), t̂ likewise (F.normalize on the last dim),
     * <pre>  loss = Σ_{b,n} −(p̂·t̂)[b,n] · mask[b,n] / Σ_{b,n} mask[b,n]</pre>
     * i.e. the mean negative cosine similarity over masked tokens (mask 1 = masked). An all-zero mask gives NaN,
     * as in the reference. With {@code mask == null} the mean runs over all tokens (the reference's unmasked branch).
     *
     * @param pred [B, N, D] decoder predictions
     * @param target [B, N, D] teacher features
     * @param mask [B, N] (1 where the token was masked), or null
     * @return a scalar in pred's manager
     */
    public static NDArray negativeCosine(NDArray pred, NDArray target, NDArray mask) {
        Shape s = pred.getShape();
        if (s.dimension() != 3 || !s.equals(target.getShape())) {
            throw new IllegalArgumentException("prediction " + s + " and teacher target " + target.getShape()
                    + " must both be [B, N, D] (the teacher's patch grid must equal the tokenizer's token grid)");
        }
        NDArray negCos = pred.normalize(2, -1, NORMALIZE_EPS).mul(target.normalize(2, -1, NORMALIZE_EPS)).sum(new int[] {2}).neg(); // [B, N]
        if (mask == null) {
            return negCos.mean();
        }
        if (!mask.getShape().equals(new Shape(s.get(0), s.get(1)))) {
            throw new IllegalArgumentException("mask " + mask.getShape() + " must be [B, N] = [" + s.get(0) + ", " + s.get(1) + "]");
        }
        NDArray m = negCos.zerosLike().add(mask); // in pred's manager and dtype, wherever the mask lives
        return negCos.mul(m).sum().div(m.sum());
    }

    @Override
    public void close() {
        network.close();
    }
}
