package maetok4j.tokenizer;

import java.util.Locale;

/**
 * Width, depth and heads of a ViT, as the reference's timm model names imply them or as given
 * explicitly ({@code encoder_dims} etc. in a config).
 */
public record ViTDims(int embedDim, int depth, int numHeads) {

    public ViTDims {
        if (embedDim <= 0 || depth <= 0 || numHeads <= 0) {
            throw new IllegalArgumentException("embed_dim, depth and num_heads must be positive, got "
                    + embedDim + ", " + depth + ", " + numHeads);
        }
        if (embedDim % numHeads != 0) {
            throw new IllegalArgumentException("embed_dim " + embedDim + " is not divisible by num_heads " + numHeads);
        }
    }

    public int headDim() {
        return embedDim / numHeads;
    }

    /**
     * The dimensions timm registers for a model name: tinytiny 192/3/3 (the reference's auxiliary decoder),
     * tiny 192/12/3, small 384/12/6, base 768/12/12, large 1024/24/16.
     */
    public static ViTDims fromModelName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.startsWith("vit_tinytiny_")) {
            return new ViTDims(192, 3, 3);
        } else if (n.startsWith("vit_tiny_")) {
            return new ViTDims(192, 12, 3);
        } else if (n.startsWith("vit_small_")) {
            return new ViTDims(384, 12, 6);
        } else if (n.startsWith("vit_base_")) {
            return new ViTDims(768, 12, 12);
        } else if (n.startsWith("vit_large_")) {
            return new ViTDims(1024, 24, 16);
        } else if (n.startsWith("vit_giant_")) {
            throw new IllegalArgumentException("'" + name + "': ViT-G (SwiGLU MLP) is not supported");
        }
        throw new IllegalArgumentException("'" + name + "' is not a supported ViT model name"
                + " (vit_{tinytiny,tiny,small,base,large}_patch14_dinov2[...], optionally with _movqv2/_movq)");
    }
}
