package maetok4j.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import maetok4j.nn.Init;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.nn.ModuleList;
import maetok4j.nn.Parameter;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Safetensors;
import maetok4j.tokenizer.CheckpointException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * SiT, the diffusion transformer of the MAETok paper (reference {@code modelling/sit.py}), in its 1D-token mode
 * for MAETok latents [B, L, H]:
 *
 * <pre>
 *   x [B, L, C] ─ x_embedder ─ + pos_embed (fixed 1D sin-cos) ─ blocks (adaLN-Zero, conditioned on c) ─ final_layer ─► v [B, L, C]
 *   t [B] ─ t_embedder ─┐
 *   y [B] ─ y_embedder ─┴─ c = t_emb + y_emb
 * </pre>
 *
 * Parameter names are the reference's state-dict keys. Arrays live in a manager this model owns.
 */
public final class SiT extends Module implements VelocityModel, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final SiTConfig config;
    public final Linear xEmbedder;
    public final Parameter posEmbed;
    public final TimestepEmbedder tEmbedder;
    public final LabelEmbedder yEmbedder;
    public final ModuleList<SiTBlock> blocks;
    public final FinalLayer finalLayer;
    private NDManager manager;

    private SiT(SiTConfig config) {
        this.config = config;
        int h = config.hiddenSize();
        xEmbedder = child("x_embedder", new Linear(config.inChannels(), h));
        posEmbed = buffer("pos_embed", new Shape(1, config.tokens(), h),
                (values, shape, rng) -> System.arraycopy(positionTable1d(h, config.tokens()), 0, values, 0, values.length));
        tEmbedder = child("t_embedder", new TimestepEmbedder(h));
        yEmbedder = child("y_embedder", new LabelEmbedder(config.labelRows(), h));
        List<SiTBlock> list = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) {
            list.add(new SiTBlock(h, config.numHeads(), config.mlpHidden()));
        }
        blocks = child("blocks", new ModuleList<>(list));
        finalLayer = child("final_layer", new FinalLayer(h, config.inChannels()));
    }

    /**
     * The reference's {@code positionalencoding1d(dim, length)} [length, dim] row-major, interleaved: even channels
     * {@code sin(pos·ω_k)}, odd ones {@code cos(pos·ω_k)}, ω_k = exp(−2k·ln(10000)/dim), in float32 as torch computes it.
     */
    public static float[] positionTable1d(int dim, int length) {
        if (dim <= 0 || dim % 2 != 0 || length <= 0) {
            throw new IllegalArgumentException("a 1D sin-cos table needs an even width and a positive length, got " + dim + " and " + length);
        }
        float[] out = new float[length * dim];
        float step = (float) (-(Math.log(10000.0) / dim));
        for (int k = 0; k < dim / 2; k++) {
            float omega = (float) Math.exp((float) (2 * k) * step);
            for (int pos = 0; pos < length; pos++) {
                float a = pos * omega;
                out[pos * dim + 2 * k] = (float) Math.sin(a);
                out[pos * dim + 2 * k + 1] = (float) Math.cos(a);
            }
        }
        return out;
    }

    /** A new model with freshly initialised weights (seeded). */
    public static SiT create(SiTConfig config, NDManager parent, long seed) {
        SiT m = new SiT(config);
        m.manager = parent.newSubManager();
        m.initialize(m.manager, seed);
        return m;
    }

    /** Loads a checkpoint folder: the reference's {@code config.json} (constructor arguments) and {@code model.safetensors}. */
    public static SiT load(Path folder, NDManager parent) {
        Path configFile = folder.resolve("config.json");
        Path weights = folder.resolve("model.safetensors");
        if (!Files.isRegularFile(configFile) || !Files.isRegularFile(weights)) {
            throw new CheckpointException(folder + ": a SiT checkpoint needs config.json and model.safetensors");
        }
        SiTConfig config;
        try {
            config = SiTConfig.fromJson(JSON.readTree(configFile.toFile()), configFile.toString());
        } catch (IOException e) {
            throw new CheckpointException(configFile + ": not valid JSON: " + e.getMessage());
        }
        SiT m = new SiT(config);
        m.manager = parent.newSubManager();
        try (Safetensors file = Safetensors.open(weights)) {
            StateDict.load(m, file, m.manager, StateDict.Mode.STRICT);
            return m;
        } catch (RuntimeException e) {
            m.manager.close();
            throw e;
        }
    }

    public SiTConfig config() {
        return config;
    }

    /** One sample's latent as the model takes it: [L, C] tokens (1D) or [C, H, W] (2D). */
    public long[] latentShape() {
        return config.vae1d() ? new long[] {config.inputSize(), config.inChannels()}
                : new long[] {config.inChannels(), config.inputSize(), config.inputSize()};
    }

    /**
     * The velocity prediction: x [B, L, C] float32, t [B] in [0, 1] (1 = noise), y [B] int64 labels (the null label
     * {@code num_classes} for the unconditional branch). Intermediates are freed; the result belongs to x's manager.
     */
    public NDArray forward(NDArray x, NDArray t, NDArray y) {
        Shape s = x.getShape();
        if (s.dimension() != 3 || s.get(1) != config.tokens() || s.get(2) != config.inChannels()) {
            throw new IllegalArgumentException("x must be [B, " + config.tokens() + ", " + config.inChannels() + "], got " + s);
        }
        if (t.getShape().size() != s.get(0) || y.getShape().size() != s.get(0)) {
            throw new IllegalArgumentException("t and y need one value per sample (" + s.get(0) + "), got " + t.getShape() + " and " + y.getShape());
        }
        return scoped(x, in -> {
            // t and y join the call's scope too, so that nothing made from them outlives it
            t.tempAttach(in.getManager());
            y.tempAttach(in.getManager());
            NDArray h = xEmbedder.forward(in).add(posEmbed.array()); // [B, L, D]
            NDArray c = tEmbedder.forward(t.toType(DataType.FLOAT32, false)).add(yEmbedder.forward(y.toType(DataType.INT64, false))); // [B, D]
            for (SiTBlock block : blocks) {
                h = block.forward(h, c); // [B, L, D]
            }
            return finalLayer.forward(h, c); // [B, L, C]
        });
    }

    @Override
    public NDArray velocity(NDArray x, NDArray t, NDArray y) {
        return forward(x, t, y);
    }

    /** {@code num_classes}: the label table's extra row. */
    @Override
    public long nullLabel() {
        return config.numClasses();
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
        }
    }
}
