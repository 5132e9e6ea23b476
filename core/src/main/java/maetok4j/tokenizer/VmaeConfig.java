package maetok4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.config.Fields;
import maetok4j.nn.LayerNorm;

import java.util.List;

import static maetok4j.config.Fields.require;

/**
 * A VMAE's architecture: the reference's {@code MaskedAutoencoderViT} constructor arguments, read from and
 * written to a checkpoint's {@code config.json} under the constructor's own names. Every key is required
 * (a config states the whole architecture; the constructor's defaults are not the released model's), and a
 * key this reader does not know is an error, so a typo cannot fall back silently.
 *
 * <p>Two keys are not constructor arguments: {@code variational} says whether {@code kl_loss_weight} was set
 * (the bottleneck then predicts a mean and a log-variance per channel), and {@code layer_norm_eps} is the
 * {@code norm_layer}'s eps. {@code no_cls}, {@code smooth_output}, {@code pred_with_conv} and
 * {@code layer_norm_eps} are checked against the one setting the released model uses (spec §2.2).
 *
 * @param imgSize     {@code img_size}: the square image side the model takes and produces
 * @param patchSize   {@code patch_size}: the downsampling factor (8 for f8)
 * @param encoder     {@code embed_dim}, {@code depth}, {@code num_heads}
 * @param decoder     {@code decoder_embed_dim}, {@code decoder_depth}, {@code decoder_num_heads}
 * @param mlpRatio    {@code mlp_ratio}: MLP hidden width over block width, in both ViTs
 * @param latentDim   {@code latent_dim}: latent channels per token (16 for d16)
 * @param variational whether {@code to_latent} predicts [mean | log-variance] (2 × latent_dim) or the latent itself
 */
public record VmaeConfig(
        int imgSize,
        int patchSize,
        ViTDims encoder,
        ViTDims decoder,
        double mlpRatio,
        int latentDim,
        boolean variational) {

    /** The keys of a VMAE {@code config.json}, in the order they are written. */
    private static final List<String> KEYS = List.of("patch_size", "embed_dim", "depth", "num_heads", "decoder_embed_dim",
            "decoder_depth", "decoder_num_heads", "mlp_ratio", "latent_dim", "img_size", "no_cls", "smooth_output",
            "pred_with_conv", "variational", "layer_norm_eps");
    private static final ObjectMapper JSON = new ObjectMapper();

    public VmaeConfig {
        require(patchSize > 0 && imgSize > 0 && imgSize % patchSize == 0,
                "img_size " + imgSize + " is not a positive multiple of patch_size " + patchSize);
        require(encoder != null && decoder != null, "encoder and decoder dimensions are required");
        // from_latent maps to decoder_embed_dim but decoder_embed reads embed_dim: the reference only runs when they agree.
        require(encoder.embedDim() == decoder.embedDim(), "decoder_embed_dim " + decoder.embedDim() + " must equal embed_dim "
                + encoder.embedDim() + " (the reference feeds from_latent's output to decoder_embed, which expects embed_dim)");
        require(mlpRatio > 0 && (int) (encoder.embedDim() * mlpRatio) > 0, "mlp_ratio must be positive, got " + mlpRatio);
        require(latentDim > 0, "latent_dim must be positive, got " + latentDim);
    }

    /** The released {@code vmaef8d16} ({@code mae_for_ldmae_f8d16_prev} at 256 px): width 192, 12+12 blocks, 12 heads, 16 latent channels. */
    public static VmaeConfig f8d16() {
        return new VmaeConfig(256, 8, new ViTDims(192, 12, 12), new ViTDims(192, 12, 12), 4, 16, true);
    }

    /** Whether a {@code config.json} tree describes a VMAE rather than a MAETok: it has {@code MaskedAutoencoderViT}-only keys. */
    public static boolean describes(JsonNode root) {
        return root != null && root.isObject() && (root.has("latent_dim") || root.has("decoder_embed_dim") || root.has("embed_dim"));
    }

    /** Tokens per side: the latent map is [latent_dim, grid, grid]. */
    public int grid() {
        return imgSize / patchSize;
    }

    public int numPatches() {
        return grid() * grid();
    }

    /** Channels of {@code to_latent}'s output: the moments [mean | log-variance], or the latent itself. */
    public int momentChannels() {
        return variational ? 2 * latentDim : latentDim;
    }

    public int mlpHidden(int width) {
        return (int) (width * mlpRatio);
    }

    /** The same architecture at another image size (only the position tables change shape). */
    public VmaeConfig withImgSize(int size) {
        return new VmaeConfig(size, patchSize, encoder, decoder, mlpRatio, latentDim, variational);
    }

    // ---- JSON ------------------------------------------------------------------------------------------

    /** Reads a {@code config.json} tree; errors are one line naming the key. */
    public static VmaeConfig fromJson(JsonNode root) {
        require(root != null && root.isObject(), "the config is not a JSON object");
        root.fieldNames().forEachRemaining(key -> require(KEYS.contains(key),
                "unknown field '" + key + "' (a VMAE config has " + String.join(", ", KEYS) + ")"));
        Fields f = new Fields((ObjectNode) root, null);
        for (String key : KEYS) {
            require(f.has(key), "missing field '" + key + "'");
        }
        require(f.bool("no_cls"), "no_cls=false is not supported: the VMAE has no CLS token");
        require(f.bool("smooth_output"), "smooth_output=false is not supported: the VMAE's decoder_pred ends with the 3x3 conv_smoother");
        require(!f.bool("pred_with_conv"), "pred_with_conv=true is not supported: the VMAE predicts patches with linear_pred");
        double eps = f.number("layer_norm_eps");
        require((float) eps == LayerNorm.EPS, "layer_norm_eps must be 1e-06 (the reference's norm_layer), got " + eps);
        ViTDims encoder = dims(f, "embed_dim", "depth", "num_heads");
        ViTDims decoder = dims(f, "decoder_embed_dim", "decoder_depth", "decoder_num_heads");
        return new VmaeConfig(f.integer("img_size"), f.integer("patch_size"), encoder, decoder, f.number("mlp_ratio"),
                f.integer("latent_dim"), f.bool("variational"));
    }

    /** The reference's {@code config.json}: every key of {@link #KEYS}. */
    public ObjectNode toJson() {
        ObjectNode out = JSON.createObjectNode();
        out.put("patch_size", patchSize);
        out.put("embed_dim", encoder.embedDim()).put("depth", encoder.depth()).put("num_heads", encoder.numHeads());
        out.put("decoder_embed_dim", decoder.embedDim()).put("decoder_depth", decoder.depth())
                .put("decoder_num_heads", decoder.numHeads());
        if (mlpRatio == Math.rint(mlpRatio)) {
            out.put("mlp_ratio", (int) mlpRatio);
        } else {
            out.put("mlp_ratio", mlpRatio);
        }
        out.put("latent_dim", latentDim).put("img_size", imgSize);
        out.put("no_cls", true).put("smooth_output", true).put("pred_with_conv", false);
        out.put("variational", variational).put("layer_norm_eps", 1e-6);
        return out;
    }

    private static ViTDims dims(Fields f, String width, String depth, String heads) {
        int w = f.integer(width);
        int d = f.integer(depth);
        int h = f.integer(heads);
        require(w > 0 && d > 0 && h > 0, width + ", " + depth + " and " + heads + " must be positive, got " + w + ", " + d + ", " + h);
        require(w % h == 0, width + " " + w + " is not divisible by " + heads + " " + h);
        return new ViTDims(w, d, h);
    }
}
