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
import maetok4j.nn.PatchEmbed;
import maetok4j.nn.StateDict;
import maetok4j.tensor.Safetensors;
import maetok4j.tokenizer.CheckpointException;
import maetok4j.tokenizer.SinCosPosEmbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SiT, the diffusion transformer of the MAETok paper (reference {@code modelling/sit.py}), in either of its modes:
 *
 * <pre>
 *   1D ({@code vae_1d}, MAETok latents):
 *   x [B, L, C] ─ x_embedder (Linear) ─ + pos_embed (fixed 1D sin-cos) ─ blocks ─ final_layer ─► v [B, L, C]
 *   2D (spatial latents):
 *   x [B, C, S, S] ─ x_embedder (p×p patches) ─ + pos_embed (fixed 2D sin-cos) ─ blocks ─ final_layer [B, N, p·p·C] ─ unpatchify ─► v [B, C, S, S]
 *
 *   t [B] ─ t_embedder ─┐
 *   y [B] ─ y_embedder ─┴─ c = t_emb + y_emb, which conditions every block and the final layer (adaLN-Zero)
 * </pre>
 *
 * Parameter names are the reference's state-dict keys. Arrays live in a manager this model owns.
 */
public final class SiT extends Module implements VelocityModel, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final SiTConfig config;
    /** A {@link Linear} in 1D mode, a {@link PatchEmbed} in 2D mode (key {@code x_embedder} either way). */
    public final Module xEmbedder;
    public final Parameter posEmbed;
    public final TimestepEmbedder tEmbedder;
    public final LabelEmbedder yEmbedder;
    public final ModuleList<SiTBlock> blocks;
    public final FinalLayer finalLayer;
    private NDManager manager;

    private SiT(SiTConfig config) {
        this.config = config;
        int h = config.hiddenSize();
        xEmbedder = child("x_embedder", config.vae1d()
                ? new Linear(config.inChannels(), h)
                : new PatchEmbed(config.inputSize(), config.patchSize(), config.inChannels(), h));
        float[] table = config.vae1d()
                ? positionTable1d(h, config.tokens())
                // SiT's copy of MAE's function computes in float64 (the VMAE's copy in float32)
                : SinCosPosEmbed.table(h, config.grid(), SinCosPosEmbed.Precision.FLOAT64);
        posEmbed = buffer("pos_embed", new Shape(1, config.tokens(), h), // [1, N, D]
                (values, shape, rng) -> System.arraycopy(table, 0, values, 0, values.length));
        tEmbedder = child("t_embedder", new TimestepEmbedder(h));
        yEmbedder = child("y_embedder", new LabelEmbedder(config.labelRows(), h));
        List<SiTBlock> list = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) {
            list.add(new SiTBlock(h, config.numHeads(), config.mlpHidden(), config.qkNorm()));
        }
        blocks = child("blocks", new ModuleList<>(list));
        finalLayer = child("final_layer", new FinalLayer(h, config.outputsPerToken()));
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

    /** A new model with freshly initialised weights (seeded), drawn as the reference's {@code initialize_weights}. */
    public static SiT create(SiTConfig config, NDManager parent, long seed) {
        SiT m = new SiT(config);
        m.manager = parent.newSubManager();
        try {
            m.initialize(m.manager, seed, m.referenceInit());
            return m;
        } catch (RuntimeException e) {
            m.manager.close();
            throw e;
        }
    }

    /**
     * The reference's {@code initialize_weights}, rule by rule, over the layers' own defaults; later rules win, as
     * there. The fixed position table and the qk-norms (ones and zeros) keep their modules' own initialisation.
     */
    private Map<String, Init> referenceInit() {
        Map<String, Parameter> tensors = stateDict();
        Map<String, Init> init = new LinkedHashMap<>();
        // _basic_init over self.apply: every nn.Linear xavier-uniform, bias zero
        namedModules().forEach((name, module) -> {
            if (module instanceof Linear) {
                init.put(name + ".weight", Init.xavierUniform());
                if (tensors.containsKey(name + ".bias")) {
                    init.put(name + ".bias", Init.zeros());
                }
            }
        });
        // the patch embedding like an nn.Linear of its flattened weight [D, C·p·p], not like a convolution
        String embedder = xEmbedder instanceof PatchEmbed ? "x_embedder.proj" : "x_embedder";
        init.put(embedder + ".weight", Init.xavierUniform());
        init.put(embedder + ".bias", Init.zeros());
        init.put("y_embedder.embedding_table.weight", Init.normal(0.02));
        init.put("t_embedder.mlp.0.weight", Init.normal(0.02));
        init.put("t_embedder.mlp.2.weight", Init.normal(0.02));
        // adaLN-Zero: every block starts as the identity and the model predicts zero
        for (int i = 0; i < config.depth(); i++) {
            init.put("blocks." + i + ".adaLN_modulation.1.weight", Init.zeros());
            init.put("blocks." + i + ".adaLN_modulation.1.bias", Init.zeros());
        }
        for (String key : List.of("adaLN_modulation.1.weight", "adaLN_modulation.1.bias", "linear.weight", "linear.bias")) {
            init.put("final_layer." + key, Init.zeros());
        }
        return init;
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
        return config.latentShape().getShape();
    }

    /**
     * The velocity prediction: x float32 [B, L, C] (1D mode) or [B, C, S, S] (2D mode), t [B] in [0, 1] (1 = noise),
     * y [B] int64 labels (the null label {@code num_classes} for the unconditional branch); the result has x's shape.
     * Intermediates are freed; the result belongs to x's manager.
     */
    public NDArray forward(NDArray x, NDArray t, NDArray y) {
        Shape s = x.getShape();
        Shape sample = config.latentShape();
        if (s.dimension() != sample.dimension() + 1 || !s.slice(1).equals(sample)) {
            String axes = config.vae1d() ? "[B, input_size, in_channels] (1D mode)" : "[B, in_channels, input_size, input_size] (2D mode)";
            throw new IllegalArgumentException("x must be " + axes + " = [B, " + join(sample) + "], got " + s);
        }
        if (t.getShape().size() != s.get(0) || y.getShape().size() != s.get(0)) {
            throw new IllegalArgumentException("t and y need one value per sample (" + s.get(0) + "), got " + t.getShape() + " and " + y.getShape());
        }
        return scoped(x, in -> {
            // t and y join the call's scope too, so that nothing made from them outlives it
            t.tempAttach(in.getManager());
            y.tempAttach(in.getManager());
            NDArray h = embed(in).add(posEmbed.array()); // [B, N, D]
            NDArray c = tEmbedder.forward(t.toType(DataType.FLOAT32, false)).add(yEmbedder.forward(y.toType(DataType.INT64, false))); // [B, D]
            for (SiTBlock block : blocks) {
                h = block.forward(h, c); // [B, N, D]
            }
            NDArray out = finalLayer.forward(h, c); // [B, N, p·p·C]
            return config.vae1d() ? out : unpatchify(out);
        });
    }

    private NDArray embed(NDArray x) {
        return xEmbedder instanceof PatchEmbed patches ? patches.forward(x) : ((Linear) xEmbedder).forward(x);
    }

    /**
     * Token predictions [B, N, p·p·C] back to [B, C, S, S]: token (i, j)'s values are a p×p×C patch in (p, q, c)
     * order, c fastest, as the reference's {@code einsum('nhwpqc->nchpwq')}.
     */
    private NDArray unpatchify(NDArray tokens) {
        long b = tokens.getShape().get(0);
        int g = config.grid();
        int p = config.patchSize();
        int c = config.inChannels();
        return tokens.reshape(b, g, g, p, p, c) // [B, h, w, p, q, C]
                .transpose(0, 5, 1, 3, 2, 4) // [B, C, h, p, w, q]
                .reshape(b, c, (long) g * p, (long) g * p); // [B, C, S, S]
    }

    private static String join(Shape s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.dimension(); i++) {
            out.append(i == 0 ? "" : ", ").append(s.get(i));
        }
        return out.toString();
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
