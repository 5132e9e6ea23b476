package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;
import maetok4j.nn.StateDict;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MAETok ({@code AEModel}, plus {@code MaskAEModel}'s auxiliary decoders when the config lists them):
 *
 * <pre>
 *   images ─ Encoder ─ quant_conv ─► z [B, L, H] ─ post_quant_conv ─ Decoder(·, z) ─► images
 *                                     └─ post_quant_conv_hog ─ decoder_hog(·, z) ─ to_pixel_hog ─► HOG [B, N, 108]
 * </pre>
 *
 * The latent is deterministic: no quantiser, no KL, no normalisation.
 */
public final class MAETok extends Module implements Tokenizer {

    public final TokenizerConfig config;
    public final Encoder encoder;
    public final Linear quantConv;
    public final Decoder decoder;
    public final Linear postQuantConv;
    private final Map<String, AuxDecoder> aux = new LinkedHashMap<>();
    private NDManager manager;

    /** An auxiliary shallow decoder: {@code post_quant_conv_<t>}, {@code decoder_<t>} (identity head) and {@code to_pixel_<t>}. */
    public record AuxDecoder(Linear postQuantConv, Decoder decoder, Linear toPixel) {}

    /** Describes the model; tensors get values by {@link #create} or {@link #load}. */
    public MAETok(TokenizerConfig config) {
        this.config = config;
        encoder = child("encoder", new Encoder(config));
        quantConv = child("quant_conv", new Linear(config.encoderDims().embedDim(), config.latentChannels()));
        decoder = child("decoder", new Decoder(config, config.decoderModel(), config.decoderDims(), config.decClsToken(), true));
        postQuantConv = child("post_quant_conv", new Linear(config.latentChannels(), config.decoderDims().embedDim()));
        for (String target : List.of("hog", "dino", "clip", "pixel")) {
            if (config.auxDecoders().contains(target)) {
                Decoder d = child("decoder_" + target, new Decoder(config, config.auxDecModel(), config.auxDecoderDims(),
                        config.auxDecClsToken(), false));
                Linear post = child("post_quant_conv_" + target, new Linear(config.latentChannels(), config.auxDecoderDims().embedDim()));
                Linear head = child("to_pixel_" + target, new Linear(config.auxDecoderDims().embedDim(), config.auxTargetDims().get(target)));
                aux.put(target, new AuxDecoder(post, d, head));
            }
        }
    }

    /** A new model with freshly initialised weights (seeded), owning its native memory. */
    public static MAETok create(TokenizerConfig config, NDManager parent, long seed) {
        MAETok m = new MAETok(config);
        m.manager = parent.newSubManager();
        m.initialize(m.manager, seed);
        return m;
    }

    /** Loads weights from a safetensors file of the reference's keys; returns the model and the ignored keys. */
    public static MAETok load(TokenizerConfig config, maetok4j.tensor.Safetensors file, NDManager parent,
            StateDict.Mode mode, List<String> ignored) {
        MAETok m = new MAETok(config);
        m.manager = parent.newSubManager();
        try {
            ignored.addAll(StateDict.load(m, file, m.manager, mode));
        } catch (RuntimeException e) {
            m.manager.close();
            throw e;
        }
        return m;
    }

    public Map<String, AuxDecoder> auxDecoders() {
        return Collections.unmodifiableMap(aux);
    }

    /** The manager that owns this model's parameters. */
    public NDManager manager() {
        return manager;
    }

    // ---- forward passes, without scoping (the caller owns every intermediate; used by training) --------

    /** images [B, 3, S, S] (mask [B, N] or null) → z [B, L, H]. */
    public NDArray encodeForward(NDArray images, NDArray mask) {
        return quantConv.forward(encoder.forward(images, mask));
    }

    /** z [B, L, H] → images [B, 3, S, S]. */
    public NDArray decodeForward(NDArray z) {
        return decoder.forward(postQuantConv.forward(z), z);
    }

    /** z [B, L, H] → the pixel decoder's image tokens before its head [B, N, D] (training needs them for the adaptive GAN weight). */
    public NDArray decodeFeatures(NDArray z) {
        return decoder.features(postQuantConv.forward(z), z);
    }

    /** Image tokens [B, N, D] → images [B, 3, S, S] through the pixel head ({@code decoder.to_pixel}). */
    public NDArray pixelHead(NDArray tokens) {
        return decoder.toPixel.forward(tokens);
    }

    /** The pixel head's linear layer: the "last layer" of the reference's adaptive weight. */
    public maetok4j.nn.Linear pixelHeadLinear() {
        return decoder.toPixel.linear();
    }

    /** z [B, L, H] → the auxiliary decoder's per-token prediction [B, N, target dim]. */
    public NDArray auxForward(String target, NDArray z) {
        AuxDecoder a = aux.get(target);
        if (a == null) {
            throw new IllegalArgumentException("this model has no '" + target + "' auxiliary decoder (has " + aux.keySet() + ")");
        }
        return a.toPixel().forward(a.decoder().forward(a.postQuantConv().forward(z), z));
    }

    // ---- Tokenizer ---------------------------------------------------------------------------------------

    @Override
    public int imageSize() {
        return config.imageSize();
    }

    @Override
    public long[] latentShape() {
        return new long[] {config.numLatentTokens(), config.latentChannels()};
    }

    @Override
    public NDArray encode(NDArray images) {
        checkImages(images);
        return scoped(images, x -> encodeForward(x, null));
    }

    /** The training path's encoding with a given mask [B, N] (1 = replaced by the mask token), in inference mode. */
    public NDArray encodeMasked(NDArray images, NDArray mask) {
        checkImages(images);
        long n = (long) config.encoderGrid() * config.encoderGrid();
        if (!mask.getShape().equals(new Shape(images.getShape().get(0), n))) {
            throw new IllegalArgumentException("mask must be [" + images.getShape().get(0) + ", " + n + "], got " + mask.getShape());
        }
        return scoped(images, x -> encodeForward(x, mask));
    }

    @Override
    public NDArray decode(NDArray latents) {
        Shape s = latents.getShape();
        if (s.dimension() != 3 || s.get(1) != config.numLatentTokens() || s.get(2) != config.latentChannels()) {
            throw new IllegalArgumentException("latents must be [B, " + config.numLatentTokens() + ", "
                    + config.latentChannels() + "], got " + s);
        }
        requireFloat(latents, "latents");
        return scoped(latents, this::decodeForward);
    }

    /** Runs an auxiliary decoder on latents z [B, L, H] in inference mode. */
    public NDArray decodeAux(String target, NDArray latents) {
        return scoped(latents, z -> auxForward(target, z));
    }

    private void checkImages(NDArray images) {
        Shape s = images.getShape();
        int size = config.imageSize();
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

    @Override
    public TokenizerInfo info() {
        Map<String, Long> parts = new LinkedHashMap<>();
        parts.put("encoder", 0L);
        parts.put("decoder", 0L);
        parts.put("aux", 0L);
        long elements = 0;
        for (Map.Entry<String, Parameter> e : stateDict().entrySet()) {
            elements += e.getValue().numel();
            if (e.getValue().isBuffer()) {
                continue;
            }
            String k = e.getKey();
            String part = k.startsWith("encoder.") || k.startsWith("quant_conv.") ? "encoder"
                    : k.startsWith("decoder.") || k.startsWith("post_quant_conv.") ? "decoder" : "aux";
            parts.merge(part, e.getValue().numel(), Long::sum);
        }
        long l = config.numLatentTokens();
        return new TokenizerInfo("maetok", config.imageSize(), latentShape(), parameterCount(), elements,
                stateDict().size(), parts, encoder.flops() + quantConv.flops(l), postQuantConv.flops(l) + decoder.flops());
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }
}
