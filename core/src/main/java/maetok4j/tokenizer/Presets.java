package maetok4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** Named tokenizer architectures: MAETok's ({@link #get}) and VMAE's ({@link #vmae}). */
public final class Presets {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Supplier<TokenizerConfig>> PRESETS = new LinkedHashMap<>();
    private static final Map<String, Supplier<VmaeConfig>> VMAE_PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("maetok-b-128", () -> released(256));
        PRESETS.put("maetok-b-128-512", () -> released(512));
        PRESETS.put("maetok-cpu", Presets::cpu);
        VMAE_PRESETS.put("vmae-f8d16", VmaeConfig::f8d16);
        VMAE_PRESETS.put("vmae-cpu", Presets::vmaeCpu);
    }

    private Presets() {}

    public static Map<String, Supplier<TokenizerConfig>> all() {
        return PRESETS;
    }

    public static boolean exists(String name) {
        return PRESETS.containsKey(name);
    }

    /** The VMAE architecture a preset names, or null when {@code name} is not a VMAE preset. */
    public static VmaeConfig vmae(String name) {
        Supplier<VmaeConfig> s = VMAE_PRESETS.get(name);
        return s == null ? null : s.get();
    }

    /** Every preset name, MAETok's then VMAE's. */
    public static List<String> names() {
        List<String> out = new ArrayList<>(PRESETS.keySet());
        out.addAll(VMAE_PRESETS.keySet());
        return out;
    }

    public static TokenizerConfig get(String name) {
        Supplier<TokenizerConfig> s = PRESETS.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown preset '" + name + "' (" + String.join(", ", PRESETS.keySet()) + ")");
        }
        return s.get();
    }

    /**
     * The released MAETok-B-128 (spec §1.2): ViT-B/16 encoder with RoPE-Mixed, MoVQ ViT-B decoder without
     * CLS, 128 tokens of 32 channels, mask modelling 40–60%.
     */
    private static TokenizerConfig released(int imageSize) {
        ObjectNode c = JSON.createObjectNode();
        c.put("image_size", imageSize).put("base_image_size", 256);
        c.put("enc_type", "vit").put("dec_type", "vit");
        c.put("encoder_model", "vit_base_patch14_dinov2.lvd142m").put("decoder_model", "vit_base_patch14_dinov2_movqv2");
        c.put("enc_pretrained", false).put("dec_pretrained", false);
        c.put("enc_patch_size", 16).put("dec_patch_size", 16);
        c.put("num_latent_tokens", 128).put("codebook_embed_dim", 32);
        c.put("use_ape", false).put("use_rope", true).put("rope_mixed", true).put("rope_theta", 10.0);
        c.put("dec_cls_token", false).put("dec_drop_path_rate", 0.05);
        c.put("enc_token_drop", 0.4).put("enc_token_drop_max", 0.6);
        c.put("aux_dec_model", "vit_tinytiny_patch14_dinov2_movq2").put("aux_loss_mask", true);
        return TokenizerConfig.fromJson(c);
    }

    /**
     * A tokenizer that trains on 2 cores: 32 px, patch 4 (64 patches), width 192 with 3 heads, 6 encoder and
     * 6 decoder layers, 16 latent tokens of 8 channels; otherwise the released design.
     */
    private static TokenizerConfig cpu() {
        ObjectNode c = (ObjectNode) released(32).toJson();
        c.put("base_image_size", 32).put("enc_patch_size", 4).put("dec_patch_size", 4);
        c.put("num_latent_tokens", 16).put("codebook_embed_dim", 8);
        c.set("encoder_dims", dims(192, 6, 3));
        c.set("decoder_dims", dims(192, 6, 3));
        return TokenizerConfig.fromJson(c);
    }

    /**
     * A VMAE that trains on 2 cores in minutes: 32 px, patch 4 (an 8×8 grid of 64 tokens), width 96 with 3 heads,
     * 3 encoder and 3 decoder blocks, 4 latent channels per token (256 latent floats per image); variational.
     */
    private static VmaeConfig vmaeCpu() {
        return new VmaeConfig(32, 4, new ViTDims(96, 3, 3), new ViTDims(96, 3, 3), 4, 4, true);
    }

    private static ObjectNode dims(int width, int depth, int heads) {
        return JSON.createObjectNode().put("embed_dim", width).put("depth", depth).put("num_heads", heads);
    }
}
