package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import maetok4j.nn.Block;
import maetok4j.nn.Init;
import maetok4j.nn.LayerNorm;
import maetok4j.nn.Linear;
import maetok4j.nn.MoVQBlock;
import maetok4j.nn.MoVQNorm;
import maetok4j.nn.Module;
import maetok4j.nn.ModuleList;
import maetok4j.nn.Parameter;
import maetok4j.nn.PatchEmbed;
import maetok4j.nn.Rope;
import maetok4j.nn.TransformerBlock;

import java.util.ArrayList;
import java.util.List;

/**
 * The timm {@code VisionTransformer} that the reference wraps as {@code .model}: prefix tokens (CLS,
 * registers), learned position table, patch embedding, blocks, final norm and (for the tiny family) an
 * unused classifier head. Encoder and decoders use different parts of it; all parts exist so that the
 * state dict matches the reference key for key.
 */
final class VisionTransformer extends Module {

    static final int MLP_RATIO = 4;

    final ViTDims dims;
    final int prefixTokens;
    final boolean noEmbedClass;
    final Parameter clsToken;
    final Parameter regToken;
    final Parameter posEmbed;
    final PatchEmbed patchEmbed;
    final ModuleList<TransformerBlock> blocks;
    final LayerNorm norm;
    final MoVQNorm movqNorm;

    /**
     * @param clsToken whether the CLS token is kept (decoders may drop it; the position table keeps its slot)
     * @param movqLatentDim latent width for MoVQ blocks, or 0 for plain blocks
     */
    VisionTransformer(String modelName, ViTDims dims, int imageSize, int patchSize, boolean clsToken, int movqLatentDim) {
        this.dims = dims;
        int d = dims.embedDim();
        int regs = TokenizerConfig.registerTokens(modelName);
        this.noEmbedClass = regs > 0;
        this.prefixTokens = (clsToken ? 1 : 0) + regs;
        this.clsToken = clsToken ? parameterNoDecay("cls_token", new Shape(1, 1, d), Init.normal(1e-6)) : null;
        this.regToken = regs > 0 ? parameterNoDecay("reg_token", new Shape(1, regs, d), Init.normal(1e-6)) : null;
        this.patchEmbed = child("patch_embed", new PatchEmbed(imageSize, patchSize, 3, d));
        // timm sizes the table before the wrapper removes a decoder's CLS token, so the CLS slot stays.
        int tableLength = patchEmbed.numPatches() + (noEmbedClass ? 0 : 1 + regs);
        this.posEmbed = parameterNoDecay("pos_embed", new Shape(1, tableLength, d), Init.truncNormal(0.02));
        List<TransformerBlock> list = new ArrayList<>();
        Float ls = TokenizerConfig.layerScale(modelName);
        for (int i = 0; i < dims.depth(); i++) {
            list.add(movqLatentDim > 0
                    ? new MoVQBlock(d, dims.numHeads(), MLP_RATIO * d, movqLatentDim)
                    : new Block(d, dims.numHeads(), MLP_RATIO * d, ls));
        }
        this.blocks = child("blocks", new ModuleList<>(list));
        if (movqLatentDim > 0) {
            this.movqNorm = child("norm", new MoVQNorm(movqLatentDim, d));
            this.norm = null;
        } else {
            this.norm = child("norm", new LayerNorm(d, true));
            this.movqNorm = null;
        }
        if (TokenizerConfig.hasClassifierHead(modelName)) {
            child("head", new Linear(d, 1000));
        }
    }

    /** timm's {@code _pos_embed}: prepend prefix tokens and (if {@code useApe}) add the position table. x [B, N, D]. */
    NDArray positionEmbed(NDArray x, boolean useApe) {
        long b = x.getShape().get(0);
        int d = dims.embedDim();
        NDList prefix = new NDList();
        if (clsToken != null) {
            prefix.add(clsToken.array().broadcast(new Shape(b, 1, d)));
        }
        if (regToken != null) {
            prefix.add(regToken.array().broadcast(new Shape(b, regToken.shape().get(1), d)));
        }
        if (noEmbedClass && useApe) {
            x = x.add(posEmbed.array());
        }
        if (!prefix.isEmpty()) {
            prefix.add(x);
            x = NDArrays.concat(prefix, 1);
        }
        if (!noEmbedClass && useApe) {
            x = x.add(posEmbed.array());
        }
        return x;
    }

    NDArray runBlocks(NDArray x, NDArray zq, Rope.Tables rope, int latents) {
        for (int i = 0; i < blocks.size(); i++) {
            x = blocks.get(i).forward(x, zq, rope, i, latents);
        }
        return movqNorm != null ? movqNorm.forward(x) : norm.forward(x);
    }

    long blockFlops(long tokens) {
        long f = 0;
        for (TransformerBlock b : blocks) {
            f += b.flops(tokens);
        }
        return f;
    }
}
