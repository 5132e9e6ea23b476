package maetok4j.diffusion;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.Set;

import static maetok4j.config.Fields.require;

/**
 * The SiT constructor arguments of the reference ({@code modelling/sit.py}), as its {@code config.json} holds them.
 *
 * @param inputSize tokens in 1D mode ({@code vae_1d}); the latent side in 2D mode
 * @param patchSize the patch side in 2D mode; ignored in 1D mode, where the reference sets it to 1
 * @param inChannels channels per token (1D) or latent channels (2D)
 * @param classDropoutProb label dropout for classifier-free guidance; above 0 the label table has a null row
 * @param qkNorm layer-normalise q and k per head in every attention
 * @param vae1d latents are token sequences [input_size, in_channels] rather than images [in_channels, input_size, input_size]
 */
public record SiTConfig(int inputSize, int patchSize, int inChannels, int hiddenSize, int depth, int numHeads, double mlpRatio,
        double classDropoutProb, int numClasses, int decoderHiddenSize, boolean qkNorm, boolean vae1d) {

    private static final Set<String> KEYS = Set.of("input_size", "patch_size", "in_channels", "hidden_size", "depth", "num_heads",
            "mlp_ratio", "class_dropout_prob", "num_classes", "decoder_hidden_size", "qk_norm", "fused_attn", "flash_attn", "vae_1d",
            "path_type", "use_cfg", "tags", "repo_url", "license",
            // a parity fixture's description of how its samples were drawn; not a model argument
            "sampler");

    public SiTConfig {
        require(inputSize > 0 && inChannels > 0 && depth > 0 && numClasses > 0, "input_size, in_channels, depth and num_classes must be positive");
        require(hiddenSize > 0 && numHeads > 0 && hiddenSize % numHeads == 0, "hidden_size " + hiddenSize + " must be a positive multiple of num_heads " + numHeads);
        require(mlpRatio > 0, "mlp_ratio must be positive, got " + mlpRatio);
        require(classDropoutProb >= 0 && classDropoutProb < 1, "class_dropout_prob must be in [0, 1), got " + classDropoutProb);
        require(decoderHiddenSize == hiddenSize, "decoder_hidden_size (" + decoderHiddenSize + ") must equal hidden_size (" + hiddenSize
                + "): the reference's final layer reads the blocks' output");
        require(patchSize >= 1, "patch_size must be positive, got " + patchSize);
        if (vae1d) {
            require(hiddenSize % 2 == 0, "hidden_size " + hiddenSize + " must be even for the 1D sin-cos position table");
        } else {
            require(inputSize % patchSize == 0, "input_size " + inputSize + " must be a multiple of patch_size " + patchSize
                    + " in 2D mode (vae_1d: false)");
            require(hiddenSize % 4 == 0, "hidden_size " + hiddenSize + " must be a multiple of 4 for the 2D sin-cos position table");
        }
    }

    /** The model sizes of the SiT paper (S, B, L, XL) and {@code cpu}, a model that trains in minutes on 2 cores. */
    public static final java.util.List<String> PRESETS = java.util.List.of("S", "B", "L", "XL", "cpu");

    /**
     * A preset's width, depth and heads for latents of the given geometry: {@code vae1d} for tokens [L, C]
     * ({@code inputSize} = L, {@code inChannels} = C, patch 1) or spatial latents [C, s, s] with patch
     * {@code patchSize}. Label dropout 0.1 (the null class {@code numClasses}), MLP ratio 4, no qk-norm.
     */
    public static SiTConfig preset(String name, int inputSize, int patchSize, int inChannels, int numClasses, boolean vae1d) {
        int[] whd = switch (name) {
            case "S" -> new int[] {384, 12, 6};
            case "B" -> new int[] {768, 12, 12};
            case "L" -> new int[] {1024, 24, 16};
            case "XL" -> new int[] {1152, 28, 16};
            case "cpu" -> new int[] {192, 6, 3};
            default -> throw new IllegalArgumentException("unknown SiT preset '" + name + "'; known: " + String.join(", ", PRESETS));
        };
        return new SiTConfig(inputSize, vae1d ? 1 : patchSize, inChannels, whd[0], whd[1], whd[2], 4.0, 0.1, numClasses, whd[0], false, vae1d);
    }

    /** The constructor arguments as the reference's {@code config.json} holds them (PyTorchModelHubMixin). */
    public com.fasterxml.jackson.databind.node.ObjectNode toJson() {
        com.fasterxml.jackson.databind.node.ObjectNode o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        o.put("path_type", "edm").put("input_size", inputSize).put("patch_size", patchSize).put("in_channels", inChannels)
                .put("hidden_size", hiddenSize).put("decoder_hidden_size", decoderHiddenSize).put("depth", depth).put("num_heads", numHeads)
                .put("mlp_ratio", mlpRatio).put("class_dropout_prob", classDropoutProb).put("num_classes", numClasses).put("use_cfg", false)
                .put("vae_1d", vae1d).put("qk_norm", qkNorm);
        return o;
    }

    /** The number of tokens the blocks see: input_size in 1D mode, (input_size / patch_size)² in 2D mode. */
    public int tokens() {
        return vae1d ? inputSize : grid() * grid();
    }

    /** Patches per side in 2D mode (input_size / patch_size); the 1D mode has no grid. */
    public int grid() {
        if (vae1d) {
            throw new IllegalStateException("a 1D-token SiT (vae_1d) has no patch grid");
        }
        return inputSize / patchSize;
    }

    /** The patch side the model uses: patch_size in 2D mode, 1 in 1D mode (as the reference forces it). */
    public int effectivePatchSize() {
        return vae1d ? 1 : patchSize;
    }

    /** Values the final layer predicts per token: patch² · in_channels. */
    public int outputsPerToken() {
        return effectivePatchSize() * effectivePatchSize() * inChannels;
    }

    /**
     * One sample's latent as the model takes it and predicts it: [input_size, in_channels] in 1D mode,
     * [in_channels, input_size, input_size] in 2D mode. A batch is {@code new Shape(B).addAll(latentShape())}.
     */
    public Shape latentShape() {
        return vae1d ? new Shape(inputSize, inChannels) : new Shape(inChannels, inputSize, inputSize);
    }

    /** Rows of the label table: one per class, plus the null label {@code num_classes} when labels are dropped in training. */
    public int labelRows() {
        return numClasses + (classDropoutProb > 0 ? 1 : 0);
    }

    public int mlpHidden() {
        return (int) (hiddenSize * mlpRatio);
    }

    /** Reads a reference {@code config.json}; {@code source} names it in errors (one line, naming the field). */
    public static SiTConfig fromJson(JsonNode root, String source) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(source + ": not a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException(source + ": unknown SiT field '" + k + "'");
            }
        }
        try {
            return new SiTConfig(integer(root, "input_size", 32, source), integer(root, "patch_size", 2, source),
                    integer(root, "in_channels", 4, source), integer(root, "hidden_size", 1152, source), integer(root, "depth", 28, source),
                    integer(root, "num_heads", 16, source), root.path("mlp_ratio").asDouble(4.0),
                    root.path("class_dropout_prob").asDouble(0.1), integer(root, "num_classes", 1000, source),
                    integer(root, "decoder_hidden_size", integer(root, "hidden_size", 1152, source), source),
                    root.path("qk_norm").asBoolean(false), root.path("vae_1d").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().startsWith(source) ? e.getMessage() : source + ": " + e.getMessage(), e);
        }
    }

    private static int integer(JsonNode root, String key, int fallback, String source) {
        JsonNode v = root.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new IllegalArgumentException(source + ": '" + key + "' must be an integer, got " + v);
        }
        return v.asInt();
    }
}
