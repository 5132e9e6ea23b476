package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Init;
import maetok4j.nn.Parameter;

/**
 * MAETok's encoder ({@code TimmViTEncoder}): image patches, with masked ones replaced by the mask token,
 * get CLS and the learned APE, then L learnable latent tokens are appended; the ViT runs over
 * {@code [CLS | image | latents]} with 2D RoPE on the image tokens, and the latent tokens are the output.
 */
public final class Encoder extends ViTWrapper {

    final TokenizerConfig config;
    final Parameter latentTokens;
    final Parameter latentPosEmbed;
    final Parameter maskToken;
    final VisionTransformer model;

    Encoder(TokenizerConfig config) {
        this.config = config;
        ViTDims dims = config.encoderDims();
        int d = dims.embedDim();
        int l = config.numLatentTokens();
        latentTokens = parameterNoDecay("latent_tokens", new Shape(1, l, d), Init.normal(0.02));
        latentPosEmbed = parameterNoDecay("latent_pos_embed", new Shape(1, l, d), Init.truncNormal(0.02));
        maskToken = config.encTokenDrop() > 0 ? parameterNoDecay("mask_token", new Shape(1, 1, d), Init.normal(0.02)) : null;
        registerRope(config, dims, config.encPatchSize());
        model = child("model", new VisionTransformer(config.encoderModel(), dims, config.imageSize(), config.encPatchSize(), true, 0));
    }

    /**
     * images [B, 3, S, S] in [-1, 1]; mask [B, N] with 1 where the patch embedding is replaced by the mask
     * token, or null. Returns the latent tokens' features [B, L, D].
     */
    NDArray forward(NDArray images, NDArray mask) {
        NDArray x = model.patchEmbed.forward(images); // [B, N, D]
        long b = x.getShape().get(0);
        if (mask != null) {
            if (maskToken == null) {
                throw new IllegalStateException("this encoder has no mask token (enc_token_drop = 0)");
            }
            NDArray m = mask.toType(DataType.BOOLEAN, false).expandDims(2).broadcast(x.getShape()); // [B, N, D]
            x = NDArrays.where(m, maskToken.array().broadcast(x.getShape()), x);
        }
        // The reference's encoder adds its APE whatever use_ape says.
        x = model.positionEmbed(x, true); // [B, P+N, D]
        int l = config.numLatentTokens();
        int d = model.dims.embedDim();
        NDArray latents = latentTokens.array().add(latentPosEmbed.array()).broadcast(new Shape(b, l, d));
        x = NDArrays.concat(new NDList(x, latents), 1); // [B, P+N+L, D]
        x = model.runBlocks(x, null, ropeTables(x.getManager(), config.encoderGrid(), model.prefixTokens, l), l);
        long t = x.getShape().get(1);
        return x.get(new NDIndex(":, {}:", t - l)); // [B, L, D]
    }

    long flops() {
        long tokens = model.prefixTokens + model.patchEmbed.numPatches() + config.numLatentTokens();
        return model.patchEmbed.flops() + model.blockFlops(tokens);
    }
}
