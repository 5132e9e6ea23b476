package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Init;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;

/**
 * MAETok's pixel decoder and auxiliary decoders ({@code TimmViTDecoder}): N copies of a mask token
 * (optionally after a CLS token) followed by the projected latents plus their position embedding; the
 * ViT runs over {@code [prefix | N mask tokens | latents]} (MoVQ blocks modulate the latent tokens from
 * the raw latent) and the image-token outputs go through the pixel head.
 */
public final class Decoder extends ViTWrapper {

    final TokenizerConfig config;
    final ViTDims dims;
    final int patchSize;
    final Parameter maskToken;
    final Parameter latentPosEmbed;
    final VisionTransformer model;
    final ToPixel toPixel;
    private final boolean useApe;
    private final boolean movq;

    /**
     * @param pixelHead true for the pixel decoder (linear head + unpatchify); false for auxiliary decoders,
     *                  whose head is the identity and whose output stays as tokens
     */
    Decoder(TokenizerConfig config, String modelName, ViTDims dims, boolean clsToken, boolean pixelHead) {
        this.config = config;
        this.dims = dims;
        this.patchSize = config.decPatchSize();
        this.movq = TokenizerConfig.isMoVQ(modelName);
        this.useApe = config.position() == TokenizerConfig.Position.APE;
        int d = dims.embedDim();
        maskToken = parameterNoDecay("mask_token", new Shape(1, 1, d), Init.normal(0.02));
        latentPosEmbed = parameterNoDecay("latent_pos_embed", new Shape(1, config.numLatentTokens(), d), Init.truncNormal(0.02));
        registerRope(config, dims, patchSize);
        model = child("model", new VisionTransformer(modelName, dims, config.imageSize(), patchSize, clsToken,
                movq ? config.latentChannels() : 0));
        toPixel = child("to_pixel", new ToPixel(pixelHead ? new Linear(d, 3 * patchSize * patchSize) : null, patchSize));
    }

    /** h [B, L, D] the projected latent, zq [B, L, C] the raw latent → images [B, 3, S, S] or tokens [B, N, D]. */
    NDArray forward(NDArray h, NDArray zq) {
        return toPixel.forward(features(h, zq));
    }

    /** The image tokens before the head: h [B, L, D], zq [B, L, C] → [B, N, D]. */
    NDArray features(NDArray h, NDArray zq) {
        long b = h.getShape().get(0);
        int n = model.patchEmbed.numPatches();
        int l = config.numLatentTokens();
        NDArray x = maskToken.array().broadcast(new Shape(b, n, dims.embedDim())); // [B, N, D]
        x = model.positionEmbed(x, useApe); // [B, P+N, D]
        x = NDArrays.concat(new NDList(x, h.add(latentPosEmbed.array())), 1); // [B, P+N+L, D]
        int p = model.prefixTokens;
        x = model.runBlocks(x, movq ? zq : null, ropeTables(x.getManager(), config.decoderGrid(), p, l), l);
        return x.get(new NDIndex(":, {}:{}", p, p + n)); // [B, N, D]
    }

    long flops() {
        int n = model.patchEmbed.numPatches();
        long tokens = model.prefixTokens + n + config.numLatentTokens();
        return model.blockFlops(tokens) + toPixel.flops(n);
    }

    /** The reference's {@code ToPixel}: child {@code model} = Linear for 'linear', nothing for 'identity'. */
    static final class ToPixel extends Module {

        private final Linear linear;
        private final int patchSize;

        ToPixel(Linear linear, int patchSize) {
            this.linear = linear == null ? null : child("model", linear);
            this.patchSize = patchSize;
        }

        Linear linear() {
            return linear;
        }

        NDArray forward(NDArray tokens) {
            return linear == null ? tokens : unpatchify(linear.forward(tokens), patchSize);
        }

        long flops(long tokens) {
            return linear == null ? 0 : linear.flops(tokens);
        }
    }

    /** [B, h*w, p*p*3] with (row-in-patch, column-in-patch, channel) order → [B, 3, h*p, w*p]. */
    static NDArray unpatchify(NDArray x, int p) {
        Shape s = x.getShape();
        int h = (int) Math.round(Math.sqrt(s.get(1)));
        if ((long) h * h != s.get(1)) {
            throw new IllegalArgumentException("cannot unpatchify " + s.get(1) + " tokens: not a square grid");
        }
        return x.reshape(s.get(0), h, h, p, p, 3).transpose(0, 5, 1, 3, 2, 4).reshape(s.get(0), 3, (long) h * p, (long) h * p);
    }
}
