package maetok4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.config.Fields;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static maetok4j.config.Fields.require;

/**
 * A MAETok tokenizer's configuration: the reference's {@code ModelArgs} fields that shape the model, plus
 * explicit ViT dimensions. It reads and writes the reference's {@code config.json}; keys it does not use
 * are kept in {@link #extra()} and written back, so a configuration survives a round trip unchanged.
 *
 * <p>Extensions over {@code ModelArgs}: {@code encoder_dims}, {@code decoder_dims}, {@code aux_decoder_dims}
 * ({@code {embed_dim, depth, num_heads}}, overriding what the timm model name implies), {@code aux_decoders}
 * (which auxiliary decoders the model holds: "hog", "dino", "clip") and {@code aux_target_dims}.
 */
public record TokenizerConfig(
        int imageSize,
        int baseImageSize,
        int latentChannels,
        int numLatentTokens,
        String encoderModel,
        String decoderModel,
        ViTDims encoderDims,
        ViTDims decoderDims,
        int encPatchSize,
        int decPatchSize,
        boolean decClsToken,
        boolean useApe,
        boolean useRope,
        boolean ropeMixed,
        double ropeTheta,
        double encTokenDrop,
        double encTokenDropMax,
        double vqMean,
        double vqStd,
        String auxDecModel,
        ViTDims auxDecoderDims,
        boolean auxDecClsToken,
        List<String> auxDecoders,
        Map<String, Integer> auxTargetDims,
        ObjectNode extra) {

    /** How image tokens learn their position. */
    public enum Position { ROPE_MIXED, ROPE_AXIAL, APE }

    public static final Set<String> AUX_TARGETS = Set.of("hog", "pixel", "dino", "clip");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectNode DEFAULTS = loadDefaults();
    private static final Set<String> TYPED_KEYS = Set.of("image_size", "base_image_size", "codebook_embed_dim",
            "num_latent_tokens", "encoder_model", "decoder_model", "encoder_dims", "decoder_dims", "enc_patch_size",
            "dec_patch_size", "dec_cls_token", "use_ape", "use_rope", "rope_mixed", "rope_theta", "enc_token_drop",
            "enc_token_drop_max", "vq_mean", "vq_std", "aux_dec_model", "aux_decoder_dims", "aux_dec_cls_token",
            "aux_decoders", "aux_target_dims");

    public TokenizerConfig {
        require(imageSize > 0, "image_size must be positive, got " + imageSize);
        require(baseImageSize > 0, "base_image_size must be positive, got " + baseImageSize);
        require(latentChannels > 0, "codebook_embed_dim must be positive, got " + latentChannels);
        require(numLatentTokens > 0, "num_latent_tokens must be positive, got " + numLatentTokens);
        require(encPatchSize > 0 && imageSize % encPatchSize == 0,
                "image_size " + imageSize + " is not a multiple of enc_patch_size " + encPatchSize);
        require(decPatchSize > 0 && imageSize % decPatchSize == 0,
                "image_size " + imageSize + " is not a multiple of dec_patch_size " + decPatchSize);
        require(baseImageSize % encPatchSize == 0 && baseImageSize % decPatchSize == 0,
                "base_image_size " + baseImageSize + " is not a multiple of the patch sizes");
        require(useRope || useApe, "use_ape=false needs use_rope=true: the reference has no position-free ViT");
        require(useRope || decClsToken, "use_ape without dec_cls_token is not supported: the reference's decoder"
                + " adds its (N+1)-entry position table to N tokens and fails");
        require(ropeTheta > 0, "rope_theta must be positive, got " + ropeTheta);
        require(encTokenDrop >= 0 && encTokenDrop < 1, "enc_token_drop must be in [0, 1), got " + encTokenDrop);
        require(encTokenDropMax >= encTokenDrop && encTokenDropMax < 1,
                "enc_token_drop_max must be in [enc_token_drop, 1), got " + encTokenDropMax);
        require(vqStd > 0, "vq_std must be positive, got " + vqStd);
        require(encoderDims != null && decoderDims != null, "encoder and decoder dimensions are required");
        require(auxDecoders.isEmpty() || auxDecoderDims != null, "aux_decoder_dims are required with aux_decoders");
        if (useRope) {
            for (ViTDims d : new ViTDims[] {encoderDims, decoderDims, auxDecoders.isEmpty() ? null : auxDecoderDims}) {
                require(d == null || d.headDim() % 4 == 0, "2D RoPE needs a head dimension divisible by 4, got " + (d == null ? 0 : d.headDim()));
            }
        }
        for (String a : auxDecoders) {
            require(AUX_TARGETS.contains(a), "aux_decoders: unknown target '" + a + "' (hog, pixel, dino, clip)");
            require(auxTargetDims.containsKey(a) && auxTargetDims.get(a) > 0, "aux_target_dims: no positive size for '" + a + "'");
        }
        auxDecoders = List.copyOf(auxDecoders);
        auxTargetDims = Map.copyOf(auxTargetDims);
        extra = extra == null ? JSON.createObjectNode() : extra.deepCopy();
    }

    // ---- what the names and flags mean for the architecture -------------------------------------------

    /** The encoder adds its learned APE always; RoPE is used whenever {@code use_rope} is set (which turns APE off in the decoder). */
    public Position position() {
        if (!useRope) {
            return Position.APE;
        }
        return ropeMixed ? Position.ROPE_MIXED : Position.ROPE_AXIAL;
    }

    public boolean decoderMoVQ() {
        return isMoVQ(decoderModel);
    }

    public boolean auxDecoderMoVQ() {
        return isMoVQ(auxDecModel);
    }

    static boolean isMoVQ(String modelName) {
        return modelName.toLowerCase(Locale.ROOT).contains("movq");
    }

    /** DINOv2-registered names carry LayerScale (init 1e-5) in their plain blocks. */
    static Float layerScale(String modelName) {
        return modelName.toLowerCase(Locale.ROOT).contains("dinov2") ? 1e-5f : null;
    }

    /** DINOv2 "reg4" names have 4 register tokens and a position table without prefix entries. */
    static int registerTokens(String modelName) {
        return modelName.toLowerCase(Locale.ROOT).contains("_reg4_") ? 4 : 0;
    }

    /** The tiny family is built with timm's ViT-Ti default config, which has a 1000-class head (unused). */
    static boolean hasClassifierHead(String modelName) {
        return modelName.toLowerCase(Locale.ROOT).startsWith("vit_tiny");
    }

    public int encoderGrid() {
        return imageSize / encPatchSize;
    }

    public int decoderGrid() {
        return imageSize / decPatchSize;
    }

    // ---- JSON ------------------------------------------------------------------------------------------

    /** Reads a {@code config.json} tree; a missing key takes the reference {@code ModelArgs} default. */
    public static TokenizerConfig fromJson(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("the config is not a JSON object");
        }
        Fields f = new Fields((ObjectNode) root, DEFAULTS);
        String encType = f.string("enc_type");
        String decType = f.string("dec_type");
        require("vit".equals(encType), "enc_type '" + encType + "' is not supported: maetok4j implements the ViT tokenizer ('vit')");
        require("vit".equals(decType), "dec_type '" + decType + "' is not supported: maetok4j implements the ViT tokenizer ('vit')");
        String toPixel = f.string("to_pixel");
        require("linear".equals(toPixel), "to_pixel '" + toPixel + "' is not supported (only 'linear', the one MAETok uses)");
        for (String key : new String[] {"enc_tuning_method", "dec_tuning_method"}) {
            String m = f.string(key);
            require(m.equals("full") || m.equals("frozen"), key + " '" + m + "' is not supported ('full' or 'frozen';"
                    + " LoRA renames the parameters)");
        }
        String encoderModel = f.string("encoder_model");
        String decoderModel = f.string("decoder_model");
        String auxModel = f.string("aux_dec_model");
        List<String> aux = f.stringList("aux_decoders");
        Map<String, Integer> targetDims = new LinkedHashMap<>(Map.of("hog", 108, "dino", 1024, "clip", 1152));
        JsonNode td = root.get("aux_target_dims");
        if (td != null && !td.isNull()) {
            require(td.isObject(), "field 'aux_target_dims' must be an object of sizes");
            td.fields().forEachRemaining(e -> {
                require(e.getValue().canConvertToInt(), "field 'aux_target_dims." + e.getKey() + "' must be an integer");
                targetDims.put(e.getKey(), e.getValue().asInt());
            });
        }
        ObjectNode extra = JSON.createObjectNode();
        root.fields().forEachRemaining(e -> {
            if (!TYPED_KEYS.contains(e.getKey())) {
                extra.set(e.getKey(), e.getValue());
            }
        });
        return new TokenizerConfig(
                f.integer("image_size"), f.integer("base_image_size"), f.integer("codebook_embed_dim"),
                f.integer("num_latent_tokens"), encoderModel, decoderModel,
                dims((ObjectNode) root, "encoder_dims", encoderModel), dims((ObjectNode) root, "decoder_dims", decoderModel),
                f.integer("enc_patch_size"), f.integer("dec_patch_size"), f.bool("dec_cls_token"),
                f.bool("use_ape"), f.bool("use_rope"), f.bool("rope_mixed"), f.number("rope_theta"),
                f.number("enc_token_drop"), f.number("enc_token_drop_max"), f.number("vq_mean"), f.number("vq_std"),
                auxModel, aux.isEmpty() && root.get("aux_decoder_dims") == null ? safeDims(auxModel) : dims((ObjectNode) root, "aux_decoder_dims", auxModel),
                f.bool("aux_dec_cls_token"), aux, targetDims, extra);
    }

    private static ViTDims safeDims(String modelName) {
        try {
            return ViTDims.fromModelName(modelName);
        } catch (IllegalArgumentException e) {
            return null; // unused: the model holds no auxiliary decoder
        }
    }

    /** The reference's {@code config.json}: every {@code ModelArgs} field, then the extension keys. */
    public ObjectNode toJson() {
        ObjectNode out = JSON.createObjectNode();
        DEFAULTS.fields().forEachRemaining(e -> out.set(e.getKey(), extra.has(e.getKey()) ? extra.get(e.getKey()) : e.getValue()));
        out.put("enc_type", "vit").put("dec_type", "vit");
        out.put("image_size", imageSize).put("base_image_size", baseImageSize).put("codebook_embed_dim", latentChannels);
        out.put("encoder_model", encoderModel).put("decoder_model", decoderModel).put("num_latent_tokens", numLatentTokens);
        out.put("enc_patch_size", encPatchSize).put("dec_patch_size", decPatchSize).put("dec_cls_token", decClsToken);
        out.put("use_ape", useApe).put("use_rope", useRope).put("rope_mixed", ropeMixed).put("rope_theta", ropeTheta);
        out.put("vq_mean", vqMean).put("vq_std", vqStd);
        out.put("enc_token_drop", encTokenDrop).put("enc_token_drop_max", encTokenDropMax);
        out.put("aux_dec_model", auxDecModel).put("aux_dec_cls_token", auxDecClsToken);
        extra.fields().forEachRemaining(e -> {
            if (!out.has(e.getKey())) {
                out.set(e.getKey(), e.getValue());
            }
        });
        out.set("encoder_dims", dimsJson(encoderDims));
        out.set("decoder_dims", dimsJson(decoderDims));
        if (!auxDecoders.isEmpty()) {
            out.set("aux_decoder_dims", dimsJson(auxDecoderDims));
            ArrayNode a = out.putArray("aux_decoders");
            auxDecoders.forEach(a::add);
            ObjectNode t = out.putObject("aux_target_dims");
            auxDecoders.forEach(k -> t.put(k, auxTargetDims.get(k)));
        }
        return out;
    }

    private static ObjectNode dimsJson(ViTDims d) {
        return JSON.createObjectNode().put("embed_dim", d.embedDim()).put("depth", d.depth()).put("num_heads", d.numHeads());
    }

    private static ObjectNode loadDefaults() {
        try (InputStream in = TokenizerConfig.class.getResourceAsStream("modelargs-defaults.json")) {
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {embed_dim, depth, num_heads} from an explicit field, else from the timm model name. */
    private static ViTDims dims(ObjectNode root, String key, String modelName) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            try {
                return ViTDims.fromModelName(modelName);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("field '" + key + "' is absent and " + e.getMessage());
            }
        }
        if (!v.isObject()) {
            throw new IllegalArgumentException("field '" + key + "' must be {embed_dim, depth, num_heads}, got " + v);
        }
        int[] d = new int[3];
        String[] names = {"embed_dim", "depth", "num_heads"};
        for (int i = 0; i < 3; i++) {
            JsonNode n = v.get(names[i]);
            if (n == null || !n.isIntegralNumber()) {
                throw new IllegalArgumentException("field '" + key + "." + names[i] + "' must be an integer, got " + n);
            }
            d[i] = n.asInt();
        }
        try {
            return new ViTDims(d[0], d[1], d[2]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("field '" + key + "': " + e.getMessage());
        }
    }
}
