package maetok4j.tokenizer;

import ai.djl.ndarray.NDArray;
import maetok4j.nn.Conv2d;
import maetok4j.nn.Linear;
import maetok4j.nn.Module;

/**
 * The VMAE's pixel head ({@code conv_decoder_pred} with {@code smooth_output}): {@code linear_pred} predicts
 * each token's p×p RGB patch, the patches are laid out as an image, and {@code conv_smoother}, a 3×3 RGB
 * convolution with zero padding, smooths across patch borders, which a per-token linear head cannot do.
 *
 * <p>The reference then cuts the image back into patch vectors and the model pastes them together again
 * ({@code unpatchify}); that round trip is an exact permutation, so this head returns the image directly.
 */
public final class ConvDecoderPred extends Module {

    public final Linear linearPred;
    public final Conv2d convSmoother;
    private final int patchSize;
    private final int imageSize;

    ConvDecoderPred(int width, int patchSize, int imageSize) {
        this.patchSize = patchSize;
        this.imageSize = imageSize;
        linearPred = child("linear_pred", new Linear(width, patchSize * patchSize * 3));
        convSmoother = child("conv_smoother", new Conv2d(3, 3, 3, 1, 1));
    }

    /** Tokens [B, N, D] in raster order → images [B, 3, S, S]. */
    public NDArray forward(NDArray tokens) {
        NDArray patches = linearPred.forward(tokens); // [B, N, p*p*3], (row, column, channel) within a patch
        NDArray image = Decoder.unpatchify(patches, patchSize); // [B, 3, S, S]
        return convSmoother.forward(image); // [B, 3, S, S]
    }

    long flops(long tokens) {
        return linearPred.flops(tokens) + 2L * 3 * 3 * 3 * 3 * imageSize * imageSize;
    }
}
