package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Block;
import maetok4j.nn.Init;
import maetok4j.nn.LayerNorm;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.nn.ModuleList;
import maetok4j.nn.Parameter;
import maetok4j.nn.PatchEmbed;
import maetok4j.nn.StateDict;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tensor.Safetensors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.stream.IntStream;

/**
 * VMAE, the variational masked autoencoder of LDMAE ({@code MaskedAutoencoderViT} as
 * {@code mae_for_ldmae_f8d16_prev} builds it for inference), a plain ViT autoencoder with a Gaussian
 * bottleneck on every patch token:
 *
 * <pre>
 *   images ─ patch_embed ─ + pos_embed ─ blocks ─ norm ─ to_latent ─► moments [B, N, 2C] = [μ | log σ²]
 *   z [B, C, h, w] ─ from_latent ─ decoder_embed ─ + decoder_pos_embed ─ decoder_blocks ─ decoder_norm
 *                  ─ decoder_pred (linear_pred, unpatchify, 3×3 conv_smoother) ─► images [B, 3, S, S]
 * </pre>
 *
 * Both position tables are fixed 2D sin-cos tables ({@link SinCosPosEmbed}), stored in the checkpoint
 * because the released ones were resized from a smaller grid rather than computed for theirs. There is no
 * CLS token, LayerScale, RoPE or mask token at inference. The latent keeps the token grid: token
 * {@code n = row·w + col} becomes pixel (row, col) of the latent map, as the reference's
 * {@code rearrange('b (h w) c -> b c h w')}.
 *
 * <p>State-dict keys are the reference's, so its {@code model.safetensors} loads as is and a saved model
 * loads in the reference.
 */
public final class VMAE extends Module implements Tokenizer {

    private static final Logger LOG = LoggerFactory.getLogger(VMAE.class);

    public final VmaeConfig config;
    public final Parameter posEmbed;
    public final Parameter decoderPosEmbed;
    public final Linear toLatent;
    public final Linear fromLatent;
    public final PatchEmbed patchEmbed;
    public final ModuleList<Block> blocks;
    public final LayerNorm norm;
    public final Linear decoderEmbed;
    public final ModuleList<Block> decoderBlocks;
    public final LayerNorm decoderNorm;
    public final ConvDecoderPred decoderPred;
    private NDManager manager;

    /** Describes the model (children in the reference's order, so keys save in its order); tensors get values by {@link #create} or {@link #load}. */
    public VMAE(VmaeConfig config) {
        this.config = config;
        int d = config.encoder().embedDim();
        int dd = config.decoder().embedDim();
        int n = config.numPatches();
        posEmbed = buffer("pos_embed", new Shape(1, n, d), sinCos(d, config.grid()));
        decoderPosEmbed = buffer("decoder_pos_embed", new Shape(1, n, dd), sinCos(dd, config.grid()));
        toLatent = child("to_latent", new Linear(d, config.momentChannels()));
        fromLatent = child("from_latent", new Linear(config.latentDim(), dd));
        patchEmbed = child("patch_embed", new PatchEmbed(config.imgSize(), config.patchSize(), 3, d));
        blocks = child("blocks", blocks(config.encoder(), config));
        norm = child("norm", new LayerNorm(d, true));
        decoderEmbed = child("decoder_embed", new Linear(d, dd));
        decoderBlocks = child("decoder_blocks", blocks(config.decoder(), config));
        decoderNorm = child("decoder_norm", new LayerNorm(dd, true));
        decoderPred = child("decoder_pred", new ConvDecoderPred(dd, config.patchSize(), config.imgSize()));
    }

    private static ModuleList<Block> blocks(ViTDims dims, VmaeConfig config) {
        return new ModuleList<>(IntStream.range(0, dims.depth())
                .mapToObj(i -> new Block(dims.embedDim(), dims.numHeads(), config.mlpHidden(dims.embedDim()), null))
                .toList());
    }

    /** Fills a position table with the sin-cos table of its grid, as the reference's {@code initialize_weights}. */
    private static Init sinCos(int dim, int grid) {
        return (values, shape, rng) -> System.arraycopy(SinCosPosEmbed.table(dim, grid), 0, values, 0, values.length);
    }

    /** A new model with freshly initialised weights (seeded), owning its native memory. */
    public static VMAE create(VmaeConfig config, NDManager parent, long seed) {
        VMAE m = new VMAE(config);
        m.manager = parent.newSubManager();
        m.initialize(m.manager, seed);
        return m;
    }

    /**
     * Loads weights from a safetensors file of the reference's keys; returns the model and adds the ignored
     * keys to {@code ignored}. Position tables stored for another grid (a 128-px checkpoint opened at 256 px)
     * are resized bilinearly to this one, as the reference's {@code load_model} does.
     */
    public static VMAE load(VmaeConfig config, Safetensors file, NDManager parent, StateDict.Mode mode, List<String> ignored) {
        int stored = storedGrid(file, config);
        VMAE m = new VMAE(config.withImgSize(stored * config.patchSize()));
        m.manager = parent.newSubManager();
        try {
            ignored.addAll(StateDict.load(m, file, m.manager, mode));
            if (stored == config.grid()) {
                return m;
            }
            LOG.info("{}: position tables resized from {}x{} to {}x{} tokens", file.file(), stored, stored, config.grid(), config.grid());
            return m.withPositionTablesFor(config);
        } catch (RuntimeException e) {
            m.manager.close();
            throw e;
        }
    }

    /** The token grid of the file's {@code pos_embed}; the config's when there is none or it is not square (the loader names that). */
    private static int storedGrid(Safetensors file, VmaeConfig config) {
        if (!file.contains("pos_embed")) {
            return config.grid();
        }
        long[] s = file.info("pos_embed").shape();
        int g = s.length == 3 ? (int) Math.round(Math.sqrt(s[1])) : 0;
        return g > 0 && (long) g * g == s[1] ? g : config.grid();
    }

    /** This model's tensors moved into a model for {@code target}, which differs in image size only; the tables are resized. */
    private VMAE withPositionTablesFor(VmaeConfig target) {
        VMAE out = new VMAE(target);
        out.manager = manager;
        Map<String, Parameter> source = stateDict();
        for (Map.Entry<String, Parameter> e : out.stateDict().entrySet()) {
            Parameter p = e.getValue();
            NDArray a = source.get(e.getKey()).array();
            p.set(p == out.posEmbed || p == out.decoderPosEmbed ? resizeTable(a, config.grid(), target.grid()) : a);
        }
        return out;
    }

    private NDArray resizeTable(NDArray table, int from, int to) {
        int dim = Math.toIntExact(table.getShape().get(2));
        float[] resized = SinCosPosEmbed.resize(table.toFloatArray(), dim, from, to);
        table.close();
        return OwnedArrays.of(manager, resized, new Shape(1, (long) to * to, dim));
    }

    /** The manager that owns this model's tensors. */
    public NDManager manager() {
        return manager;
    }

    // ---- forward passes, without scoping (the caller owns every intermediate; for training) ------------

    /** images [B, 3, S, S] → moments [B, N, 2C] = [μ | log σ²] per token (the latent itself [B, N, C] when not variational). */
    public NDArray momentsForward(NDArray images) {
        NDArray x = patchEmbed.forward(images).add(posEmbed.array()); // [B, N, D]
        for (Block blk : blocks) {
            x = blk.forward(x, null, null, 0, 0); // [B, N, D]
        }
        return toLatent.forward(norm.forward(x)); // [B, N, 2C]
    }

    /** Latent tokens z [B, N, C] → images [B, 3, S, S]. */
    public NDArray decodeForward(NDArray z) {
        NDArray x = decoderEmbed.forward(fromLatent.forward(z)).add(decoderPosEmbed.array()); // [B, N, D]
        for (Block blk : decoderBlocks) {
            x = blk.forward(x, null, null, 0, 0); // [B, N, D]
        }
        return decoderPred.forward(decoderNorm.forward(x)); // [B, 3, S, S]
    }

    /** The posterior's mean [B, N, C] (the moments are the latent when the model is not variational). */
    private NDArray mean(NDArray moments) {
        return config.variational() ? DiagonalGaussian.mode(moments) : moments;
    }

    /** Tokens [B, h*w, C] in raster order → latent map [B, C, h, w]. */
    private NDArray toMap(NDArray tokens) {
        long b = tokens.getShape().get(0);
        return tokens.transpose(0, 2, 1).reshape(b, config.latentDim(), config.grid(), config.grid());
    }

    /** Latent map [B, C, h, w] → tokens [B, h*w, C] in raster order. */
    private NDArray toTokens(NDArray map) {
        long b = map.getShape().get(0);
        return map.reshape(b, config.latentDim(), config.numPatches()).transpose(0, 2, 1);
    }

    // ---- Tokenizer ---------------------------------------------------------------------------------------

    @Override
    public int imageSize() {
        return config.imgSize();
    }

    /** [C, h, w]: the latent is a map, channels first. */
    @Override
    public long[] latentShape() {
        return new long[] {config.latentDim(), config.grid(), config.grid()};
    }

    @Override
    public int latentChannelAxis() {
        return 0;
    }

    /** images [B, 3, S, S] → the posterior mean as a latent map [B, C, h, w] (the reference's {@code encode(x).latent_dist.mode()}). */
    @Override
    public NDArray encode(NDArray images) {
        checkImages(images);
        return scoped(images, x -> toMap(mean(momentsForward(x))));
    }

    /** images [B, 3, S, S] → the encoder's moments [B, N, 2C] = [μ | log σ²] per token, what LDMAE caches for diffusion training. */
    public NDArray moments(NDArray images) {
        checkImages(images);
        return scoped(images, this::momentsForward);
    }

    /** images [B, 3, S, S] → a latent map [B, C, h, w] drawn from the posterior, μ + σ·ε with ε from {@code rng}. */
    public NDArray sample(NDArray images, RandomGenerator rng) {
        checkImages(images);
        if (!config.variational()) {
            throw new IllegalStateException("this VMAE is not variational (variational=false): its latent is deterministic");
        }
        return scoped(images, x -> toMap(DiagonalGaussian.sample(momentsForward(x), rng)));
    }

    /** Latent maps [B, C, h, w] → images [B, 3, S, S]. */
    @Override
    public NDArray decode(NDArray latents) {
        Shape s = latents.getShape();
        long[] want = latentShape();
        if (s.dimension() != 4 || s.get(1) != want[0] || s.get(2) != want[1] || s.get(3) != want[2]) {
            throw new IllegalArgumentException("latents must be [B, " + want[0] + ", " + want[1] + ", " + want[2] + "], got " + s);
        }
        requireFloat(latents, "latents");
        return scoped(latents, z -> decodeForward(toTokens(z)));
    }

    private void checkImages(NDArray images) {
        Shape s = images.getShape();
        int size = config.imgSize();
        if (s.dimension() != 4 || s.get(1) != 3 || s.get(2) != size || s.get(3) != size) {
            throw new IllegalArgumentException("images must be [B, 3, " + size + ", " + size + "], got " + s);
        }
        requireFloat(images, "images");
    }

    private static void requireFloat(NDArray a, String what) {
        if (a.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(what + " must be float32, got " + a.getDataType());
        }
    }

    @Override
    public void save(Path folder) {
        Checkpoints.save(this, config.toJson(), folder);
    }

    /**
     * Parameters exclude the two fixed position tables, which the reference registers as frozen
     * {@code nn.Parameter}s (so its {@code sum(p.numel())} counts them); the state elements include them.
     */
    @Override
    public TokenizerInfo info() {
        Map<String, Long> parts = new LinkedHashMap<>();
        parts.put("encoder", 0L);
        parts.put("decoder", 0L);
        List<String> encoderKeys = List.of("patch_embed.", "blocks.", "norm.", "to_latent.");
        long elements = 0;
        for (Map.Entry<String, Parameter> e : stateDict().entrySet()) {
            elements += e.getValue().numel();
            if (!e.getValue().isBuffer()) {
                String part = encoderKeys.stream().anyMatch(e.getKey()::startsWith) ? "encoder" : "decoder";
                parts.merge(part, e.getValue().numel(), Long::sum);
            }
        }
        long n = config.numPatches();
        long encode = patchEmbed.flops() + toLatent.flops(n);
        long decode = fromLatent.flops(n) + decoderEmbed.flops(n) + decoderPred.flops(n);
        for (Block b : blocks) {
            encode += b.flops(n);
        }
        for (Block b : decoderBlocks) {
            decode += b.flops(n);
        }
        return new TokenizerInfo("vmae", config.imgSize(), latentShape(), parameterCount(), elements, stateDict().size(),
                parts, encode, decode);
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }
}
